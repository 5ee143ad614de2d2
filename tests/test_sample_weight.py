"""fit(X, y, sample_weight): integer weights act as repeated rows, zero weights as removal."""

import numpy as np
import pytest
from helpers import linear_data, tiny_estimators

KINDS = ["energy", "distilled"]


def two_branches(n=300, seed=0):
    """y = x + 1 (even rows) or x - 1 (odd rows), + N(0, 0.1^2); x ~ U(-1, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 1))
    upper = np.arange(n) % 2 == 0
    return X, X[:, 0] + np.where(upper, 1.0, -1.0) + 0.1 * rng.normal(size=n), upper


@pytest.mark.parametrize("kind", KINDS)
def test_equal_weights_fit_exactly_as_no_weights(kind):
    X, y = linear_data()
    plain = tiny_estimators()[kind]().fit(X, y)
    weighted = tiny_estimators()[kind]().fit(X, y, sample_weight=np.full(len(y), 2.5))
    np.testing.assert_array_equal(weighted.predict(X), plain.predict(X))


@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_rows_are_removed(kind):
    X, y = linear_data(n=300)
    weights = np.ones(len(y))
    weights[::3] = 0.0
    kept = np.flatnonzero(weights)
    model = tiny_estimators()[kind](early_stopping=True).fit(X, y, sample_weight=weights)
    removed = tiny_estimators()[kind](early_stopping=True).fit(X[kept], y[kept])
    np.testing.assert_array_equal(model.predict(X), removed.predict(X))
    # Held-out rows are reported as rows of the X passed to fit.
    np.testing.assert_array_equal(model.validation_indices_,
                                  kept[removed.validation_indices_])
    assert np.all(weights[model.validation_indices_] > 0)


def test_target_standardisation_is_weighted_as_repeated_rows():
    X, y, _ = two_branches(n=40)
    weights = np.arange(40) % 4
    model = tiny_estimators()["distilled"](max_epochs=1).fit(X, y, sample_weight=weights)
    repeated = tiny_estimators()["distilled"](max_epochs=1).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(model._target_scaler.mean, repeated._target_scaler.mean,
                               rtol=1e-12)
    np.testing.assert_allclose(model._target_scaler.scale, repeated._target_scaler.scale,
                               rtol=1e-12)


@pytest.mark.parametrize("kind, settings", [
    ("distilled", dict(teacher_weight=0.0)),
    pytest.param("distilled", {}, marks=pytest.mark.slow),
    pytest.param("energy", {}, marks=pytest.mark.slow),
])
def test_integer_weights_fit_like_repeated_rows(kind, settings):
    """Weights 3 on the upper branch: P(y > x | x) = 3/4 and E[y | x] = x + 1/2.

    Unweighted, the model gives 1/2 and x: weights that were ignored fail by
    0.25 and 0.5. The repeated data has twice the rows, so it gets half the
    epochs of the weighted fit, for the same number of optimiser steps.
    """
    X, y, upper = two_branches()
    weights = np.where(upper, 3, 1)
    X_test = np.linspace(-0.8, 0.8, 9)[:, None]
    settings = dict(hidden_size=16, early_stopping=False, **settings)
    weighted = tiny_estimators()[kind](max_epochs=80, **settings).fit(
        X, y, sample_weight=weights)
    repeated = tiny_estimators()[kind](max_epochs=40, **settings).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights))
    for model in (weighted, repeated):
        dist = model.predict_dist(X_test)
        np.testing.assert_allclose(dist.cdf(X_test[:, 0]), 0.25, atol=0.07)
        np.testing.assert_allclose(model.predict(X_test), X_test[:, 0] + 0.5, atol=0.15)
    np.testing.assert_allclose(weighted.predict(X_test), repeated.predict(X_test), atol=0.15)


@pytest.mark.parametrize("weights, message", [
    (np.ones(59), "shape"),
    (-np.ones(60), "Negative"),
    (np.zeros(60), "non-zero"),
    (np.r_[np.nan, np.ones(59)], "NaN"),
])
def test_invalid_weights_are_refused_with_a_clear_error(weights, message):
    X, y = linear_data()
    with pytest.raises(ValueError, match=message):
        tiny_estimators()["distilled"]().fit(X, y, sample_weight=weights)
