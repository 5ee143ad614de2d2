"""Fits in parallel workers give the same results as fits in sequence."""

import joblib
import numpy as np
from helpers import TINY
from sklearn.model_selection import KFold, cross_validate

from skebm import EnergyRegressor
from skebm.datasets import make_brando2019

FAST = dict(TINY, n_inference_samples=64, device="cpu")


def test_cross_validation_in_threads_matches_a_sequential_run():
    # Threads share torch's global generator, which seeds initialisation.
    # (Worker processes are covered by tests/test_dask.py.)
    X, y = make_brando2019(n_samples=200, random_state=0)
    folds = KFold(4, shuffle=True, random_state=0)
    sequential = cross_validate(EnergyRegressor(**FAST), X, y, cv=folds)["test_score"]
    with joblib.parallel_backend("threading", n_jobs=2):
        parallel = cross_validate(EnergyRegressor(**FAST), X, y, cv=folds, n_jobs=2)["test_score"]
    np.testing.assert_allclose(parallel, sequential, rtol=1e-6)
