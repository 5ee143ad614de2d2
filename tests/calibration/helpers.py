"""A known data-generating density, and a fast model of it with a deliberately wrong scale."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from skebm.distributions import GaussianMixtureDistribution

WEIGHTS = np.array([0.7, 0.3])


def true_distribution(X, std_factor=1.0):
    """y | x ~ 0.7 N(x, (0.2 + 0.2|x|)^2) + 0.3 N(-x, 0.4^2), stds scaled by ``std_factor``."""
    x = np.asarray(X, dtype=float)[:, 0]
    n = len(x)
    means = np.stack([x, -x], axis=1)[:, :, None]
    stds = np.stack([0.2 + 0.2 * np.abs(x), np.full(n, 0.4)], axis=1)[:, :, None]
    return GaussianMixtureDistribution(np.log(np.tile(WEIGHTS, (n, 1))), means, std_factor * stds)


def sample_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    y = true_distribution(X).sample(1, random_state=rng)[:, 0]
    return X, y


class WrongScaleRegressor(RegressorMixin, BaseEstimator):
    """Predicts the true conditional density with every std multiplied by ``std_factor``.

    Fitting only records the input width: this is a fast stand-in for a
    mis-calibrated model with a known answer.
    """

    def __init__(self, std_factor=0.5, random_state=None):
        self.std_factor = std_factor
        self.random_state = random_state  # unused; read by wrappers, as skebm's estimators' is

    def fit(self, X, y, sample_weight=None):  # the weights, like the targets, are not used
        validate_data(self, X, y)
        return self

    def predict_dist(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return true_distribution(X, self.std_factor)

    def predict(self, X):
        return self.predict_dist(X).mean()


class FitSizeDependentRegressor(WrongScaleRegressor):
    """The true density with stds multiplied by ``reference_size / n_fit_rows``.

    A stand-in for a model whose calibration changes with the number of rows
    it is fitted on: fitted on ``reference_size`` rows it is calibrated,
    fitted on twice as many it is over-confident (stds halved).
    """

    def __init__(self, reference_size=1000, random_state=None):
        self.reference_size = reference_size
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        validate_data(self, X, y)
        self.std_factor_ = self.reference_size / len(X)
        return self

    def predict_dist(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return true_distribution(X, self.std_factor_)


class HoldsOutRowsRegressor(FitSizeDependentRegressor):
    """:class:`FitSizeDependentRegressor` that reports early-stopping rows, as skebm's do.

    It claims the first ``held_out_fraction`` of its training rows as
    ``validation_indices_`` (its fit uses none of the targets, so any rows
    are out of sample for it).
    """

    def __init__(self, reference_size=1000, held_out_fraction=0.5, random_state=None):
        super().__init__(reference_size, random_state)
        self.held_out_fraction = held_out_fraction

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y)
        self.validation_indices_ = np.arange(round(self.held_out_fraction * len(X)))
        return self


def integer_distribution(X, std_factor=1.0):
    """Y | x ~ N(3 + 2 sin(x), (0.5 + 0.3|x|)^2), stds scaled by ``std_factor``.

    The integers ``round(Y)`` are the targets: ``P(k) = F(k + 1/2) - F(k - 1/2)``
    for the CDF ``F`` of Y, so with ``std_factor=1`` this is the correct
    model of them; a few integers carry most of each row's mass, as for
    ratings.
    """
    x = np.asarray(X, dtype=float)[:, 0]
    n = len(x)
    means = (3.0 + 2.0 * np.sin(x))[:, None, None]
    stds = std_factor * (0.5 + 0.3 * np.abs(x))[:, None, None]
    return GaussianMixtureDistribution(np.zeros((n, 1)), means, stds)


def sample_integer_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, np.rint(integer_distribution(X).sample(1, random_state=rng)[:, 0])


class WrongScaleIntegerRegressor(WrongScaleRegressor):
    """:func:`integer_distribution` with its std multiplied by ``std_factor``."""

    def predict_dist(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return integer_distribution(X, self.std_factor)
