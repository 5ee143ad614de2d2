"""RecalibratedRegressor(n_fits > 1): each model is the equal mixture of differently seeded fits."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from skebm import EnergyRegressor
from skebm.calibration import (
    CalibrationMap,
    EqualMixtureDistribution,
    RecalibratedDistribution,
    RecalibratedRegressor,
    pit,
)
from skebm.distributions import GaussianMixtureDistribution
from skebm.metrics import interval_coverage, negative_log_likelihood
from tests.calibration.helpers import (
    WrongScaleIntegerRegressor,
    WrongScaleRegressor,
    sample_data,
    sample_integer_data,
    true_distribution,
)

LEVELS = (0.5, 0.8, 0.9, 0.95)


class SeedShiftRegressor(WrongScaleRegressor):
    """The true density, stds times ``std_factor``, shifted by an offset drawn from the seed.

    A stand-in for a model whose error changes from fit to fit: each fit's
    offset is ``N(0, shift^2)`` drawn from its ``random_state``. It names
    half of its rows, drawn from the same seed, as early-stopping rows.
    """

    def __init__(self, std_factor=0.5, shift=0.3, random_state=None):
        super().__init__(std_factor, random_state)
        self.shift = shift

    def fit(self, X, y):
        validate_data(self, X, y)
        rng = np.random.default_rng(self.random_state)
        self.offset_ = self.shift * rng.normal()
        self.validation_indices_ = np.sort(rng.permutation(len(X))[:len(X) // 2])
        return self

    def predict_dist(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        base = true_distribution(X, self.std_factor)
        return GaussianMixtureDistribution(base.log_weights, base.means + self.offset_,
                                           base.stds)


class UnseededRegressor(WrongScaleRegressor):
    """:class:`WrongScaleRegressor` without a ``random_state`` parameter."""

    def __init__(self, std_factor=0.5):
        self.std_factor = std_factor


def mixture_of(fits, X):
    return EqualMixtureDistribution([fit.predict_dist(X) for fit in fits])


def test_the_final_model_is_the_recalibrated_mixture_of_differently_seeded_fits():
    X, y = sample_data(600, seed=30)
    X_test, y_test = sample_data(50, seed=31)
    model = RecalibratedRegressor(SeedShiftRegressor(random_state=7), cv=3, n_fits=3).fit(X, y)
    (fits,) = model.fits_
    assert len(fits) == 3 and fits[0] is model.estimator_
    states = [fit.random_state for fit in fits]
    assert states[0] == 7 and len(set(states)) == 3
    assert len({fit.offset_ for fit in fits}) == 3
    expected = RecalibratedDistribution(mixture_of(fits, X_test), model.calibration_)
    np.testing.assert_allclose(model.predict_dist(X_test).logpdf(y_test),
                               expected.logpdf(y_test))
    np.testing.assert_allclose(model.predict_dist(X_test).cdf(y_test[:, None]),
                               expected.cdf(y_test[:, None]))
    # The same seeds again: the fits, and so the predictions, repeat.
    again = RecalibratedRegressor(SeedShiftRegressor(random_state=7), cv=3, n_fits=3).fit(X, y)
    assert [fit.random_state for fit in again.fits_[0]] == states


def test_the_maps_are_learned_on_the_held_out_pit_of_the_fold_mixtures():
    X, y = sample_data(600, seed=32)
    folds = KFold(3, shuffle=True, random_state=0)
    model = RecalibratedRegressor(SeedShiftRegressor(random_state=1), cv=folds, n_fits=2,
                                  ensemble=True, n_knots=5).fit(X, y)
    assert len(model.fits_) == 3 and not hasattr(model, "estimator_")
    for (_, held_out), fits, estimator, calibration in zip(
            folds.split(X), model.fits_, model.estimators_, model.calibrations_):
        assert len(fits) == 2 and fits[0] is estimator
        np.testing.assert_allclose(model.pit_values_[held_out],
                                   pit(y[held_out], mixture_of(fits, X[held_out])))
        np.testing.assert_array_equal(
            calibration.knots_, CalibrationMap(model.pit_values_[held_out], n_knots=5).knots_)


def test_the_final_mixture_adds_the_rows_every_fit_held_out():
    X, y = sample_data(400, seed=33)
    model = RecalibratedRegressor(SeedShiftRegressor(random_state=2), cv=3, n_fits=2).fit(X, y)
    first, second = (fit.validation_indices_ for fit in model.fits_[0])
    rows = np.intersect1d(first, second)
    assert 0 < len(rows) < len(first)  # the two fits held out different rows
    np.testing.assert_allclose(model.final_pit_values_,
                               pit(y[rows], mixture_of(model.fits_[0], X[rows])))
    expected = CalibrationMap(np.concatenate([model.pit_values_, model.final_pit_values_]))
    np.testing.assert_array_equal(model.calibration_.knots_, expected.knots_)


@pytest.mark.parametrize("ensemble", [False, True])
def test_recalibrating_mixtures_of_fits_restores_interval_coverage(ensemble):
    # Each fit is over-confident and off by its own offset. The mixture of three
    # is still too narrow at the centre and, had its map been learned on single
    # fits, would be corrected for the wrong predictor.
    X, y = sample_data(3000, seed=34)
    X_test, y_test = sample_data(4000, seed=35)
    model = RecalibratedRegressor(SeedShiftRegressor(0.4, shift=0.15, random_state=3), cv=5,
                                  n_fits=3, ensemble=ensemble).fit(X, y)
    raw = mixture_of(model.fits_[0], X_test)
    raw_errors = [interval_coverage(y_test, raw, confidence=level) - level for level in LEVELS]
    assert max(np.abs(raw_errors)) > 0.05
    dist = model.predict_dist(X_test)
    for level in LEVELS:
        assert abs(interval_coverage(y_test, dist, confidence=level) - level) <= 0.03
    assert negative_log_likelihood(y_test, dist) < negative_log_likelihood(y_test, raw) - 0.02


def test_several_fits_reseed_every_step_of_a_pipeline():
    X, y = sample_data(300, seed=36)
    base = make_pipeline(StandardScaler(), SeedShiftRegressor(random_state=4))
    model = RecalibratedRegressor(base, cv=3, n_fits=2).fit(X, y)
    first, second = model.fits_[0]
    assert first[-1].random_state == 4 and second[-1].random_state != 4
    assert first[-1].offset_ != second[-1].offset_
    assert base[-1].random_state == 4 and not hasattr(base[-1], "offset_")  # never modified


def test_several_fits_need_a_random_state_parameter():
    X, y = sample_data(200, seed=37)
    with pytest.raises(ValueError, match="UnseededRegressor has no random_state parameter"):
        RecalibratedRegressor(UnseededRegressor(), cv=3, n_fits=2).fit(X, y)
    model = RecalibratedRegressor(UnseededRegressor(), cv=3, n_fits=1).fit(X, y)
    assert isinstance(model.predict_dist(X[:2]).base, GaussianMixtureDistribution)
    with pytest.raises(ValueError, match="n_fits"):
        RecalibratedRegressor(UnseededRegressor(), n_fits=0).fit(X, y)


def test_integer_targets_are_recalibrated_on_the_mixtures_intervals():
    X, y = sample_integer_data(1500, seed=38)
    X_test, y_test = sample_integer_data(3000, seed=39)
    model = RecalibratedRegressor(WrongScaleIntegerRegressor(0.5, random_state=0), cv=3,
                                  n_fits=2, discrete=True).fit(X, y)
    dist = model.predict_dist(X_test)
    assert isinstance(dist.base, EqualMixtureDistribution)
    values = pit(y_test, dist, discrete=True, random_state=0)
    for level in LEVELS:
        assert abs(np.mean(np.abs(values - 0.5) <= level / 2) - level) <= 0.03


def test_a_skebm_estimator_fitted_twice_per_model_predicts_pickles_and_refits():
    X, y = sample_data(240, seed=40)
    base = EnergyRegressor(max_epochs=2, hidden_size=8, n_noise_samples=16,
                           n_inference_samples=64, random_state=0)
    model = RecalibratedRegressor(base, cv=3, n_fits=2).fit(X, y)
    first, second = model.fits_[0]
    assert not np.allclose(first.predict(X[:5]), second.predict(X[:5]))
    dist = model.predict_dist(X[:5])
    assert np.all(np.isfinite(dist.logpdf(y[:5])))
    assert model.sample(X[:5], n_samples=7).shape == (5, 7)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_dist(X[:5]).logpdf(y[:5]), dist.logpdf(y[:5]))
    np.testing.assert_allclose(clone(model).fit(X, y).predict(X[:5]), model.predict(X[:5]))
