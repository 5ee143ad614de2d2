"""What only EnergyRegressor does: importance sampling, the Gaussian baseline, the 1-D grid.

Behaviour shared with DistilledMDNRegressor is tested in ``test_estimators.py``.
"""

import numpy as np
import pytest
from helpers import FAST, heteroscedastic
from sklearn.model_selection import GridSearchCV

from skebm import EnergyRegressor


# ---------------------------------------------------------------- prediction
def test_predictions_do_not_depend_on_chunk_size(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    Y = np.column_stack([X[:, 0], -X[:, 1]]) + 0.3 * rng.normal(size=(100, 2))
    model = EnergyRegressor(**FAST).fit(X, Y)
    before = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    monkeypatch.setattr("skebm._chunking.PAIRS_PER_CHUNK", 3000)
    after = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_density_integrates_to_one_beyond_the_training_range():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1))
    y = 1000 + 300 * rng.normal(size=300)
    dist = EnergyRegressor(max_epochs=2, random_state=0).fit(X, y).predict_dist(X[:3])
    grid = np.linspace(-5000, 7000, 100_001)
    mass = np.trapezoid(dist.pdf(np.broadcast_to(grid, (3, grid.size))), grid, axis=1)
    np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def test_mixed_precision_wraps_the_extractor_in_autocast():
    X, y = heteroscedastic(200)
    model = EnergyRegressor(mixed_precision=True, **FAST).fit(X, y)
    assert type(model.module_.extractor).__name__ == "AutocastExtractor"


# ---------------------------------------------------------------- gaussian baseline
def test_gaussian_noise_baseline_learns_and_predicts():
    X, y = heteroscedastic(400)
    model = EnergyRegressor(noise="gaussian", max_epochs=20, random_state=0).fit(X, y)
    assert np.mean((model.predict(X) - 2 * X[:, 0]) ** 2) < 0.1


def test_grid_search_over_sigmas_rejects_absurd_widths():
    X, y = heteroscedastic(400)
    search = GridSearchCV(
        EnergyRegressor(noise="gaussian", max_epochs=20, early_stopping=False, random_state=0),
        {"sigmas": [(0.05, 0.4), (0.2, 1.6), (200.0, 1600.0)]},
        cv=2,
    )
    search.fit(X, y)
    assert search.best_params_["sigmas"] == (0.2, 1.6)
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] < scores[1] - 0.1


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, name",
    [
        ({"noise": "uniform"}, "noise"),
        ({"sigmas": (0.1, -0.5), "noise": "gaussian"}, "sigmas"),
        ({"n_inference_samples": 0}, "n_inference_samples"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    X, y = heteroscedastic(20)
    with pytest.raises(ValueError, match=name):
        EnergyRegressor(**{**FAST, **params}).fit(X, y)
