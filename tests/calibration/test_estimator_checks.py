"""RecalibratedRegressor around a real skebm estimator.

scikit-learn's estimator checks run on it around a fake base estimator in
``tests/test_estimator_checks.py``; this smoke test runs the contract that
the fake cannot stand in for (clone, fit, predict, pickle) around a network.
"""

import pickle

import numpy as np
from helpers import linear_data, tiny_estimators
from sklearn.base import clone

from skebm.calibration import RecalibratedRegressor


def test_around_a_real_estimator_it_clones_fits_predicts_and_pickles():
    X, y = linear_data(n=40)
    model = RecalibratedRegressor(tiny_estimators()["distilled"](), cv=2, n_fits=2)
    fitted = clone(model).fit(X, y)
    assert not hasattr(model, "estimator_")
    assert len(fitted.fits_[0]) == 2
    assert fitted.predict(X).shape == (40,)
    assert np.isfinite(fitted.score(X, y))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(restored.predict_dist(X).cdf(y), fitted.predict_dist(X).cdf(y))
