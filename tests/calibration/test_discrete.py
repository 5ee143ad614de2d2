"""Integer targets: the randomised PIT, the map of PIT intervals and discrete recalibration."""

import pickle

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone

from skebm import EnergyRegressor
from skebm.calibration import CalibrationMap, RecalibratedDistribution, RecalibratedRegressor, pit
from skebm.calibration._discrete import dequantise, pit_intervals, randomised_pit
from skebm.ensemble import member_seed
from tests.calibration.helpers import (
    WrongScaleIntegerRegressor,
    integer_distribution,
    sample_data,
    sample_integer_data,
)

LEVELS = (0.5, 0.8, 0.9, 0.95)


def coverage_errors(pit_values):
    """Coverage minus level of the central intervals at ``LEVELS``, read off PIT values."""
    return np.array([np.mean(np.abs(pit_values - 0.5) <= level / 2) - level for level in LEVELS])


# ------------------------------------------------------------ the randomised PIT
def test_randomised_pit_of_the_correct_integer_model_is_uniform():
    X, k = sample_integer_data(4000, seed=1)
    values = pit(k, integer_distribution(X), discrete=True, random_state=0)
    assert stats.kstest(values, "uniform").pvalue > 0.01


def test_continuous_pit_of_the_same_integers_is_not_uniform():
    X, k = sample_integer_data(4000, seed=1)
    assert stats.kstest(pit(k, integer_distribution(X)), "uniform").pvalue < 1e-6


def test_randomised_pit_is_seeded_and_lies_in_each_integer_interval():
    X, k = sample_integer_data(500, seed=2)
    dist = integer_distribution(X)
    values = pit(k, dist, discrete=True, random_state=3)
    np.testing.assert_array_equal(pit(k, dist, discrete=True, random_state=3), values)
    assert not np.allclose(pit(k, dist, discrete=True, random_state=4), values)
    assert np.all(dist.cdf(k - 0.5) <= values) and np.all(values <= dist.cdf(k + 0.5))


def test_randomised_pit_refuses_non_integer_targets():
    X, y = sample_data(20, seed=5)
    with pytest.raises(ValueError, match="integer targets"):
        pit(y, integer_distribution(X), discrete=True)


# ------------------------------------------------------------ the interval map
def test_interval_map_of_point_intervals_is_close_to_the_continuous_map():
    values = np.random.default_rng(6).beta(2.0, 3.0, size=2000)
    continuous = CalibrationMap(values, n_knots=8)
    intervals = CalibrationMap.from_intervals(values, values, n_knots=8)
    np.testing.assert_allclose(intervals.knots_, continuous.knots_, atol=2e-3)


def test_interval_map_refuses_reversed_intervals():
    with pytest.raises(ValueError, match="lower <= upper"):
        CalibrationMap.from_intervals([0.2, 0.5, 0.7], [0.1, 0.6, 0.8])


def over_confident_integer_models():
    """A model of integer targets with stds 0.6 times too small, raw and recalibrated."""
    X, k = sample_integer_data(3000, seed=10)
    X_test, k_test = sample_integer_data(20000, seed=11)
    raw = WrongScaleIntegerRegressor(0.6, random_state=0).fit(X, k)
    model = RecalibratedRegressor(WrongScaleIntegerRegressor(0.6, random_state=0),
                                  discrete=True).fit(X, k)
    return raw, model, X_test, k_test


def test_discrete_recalibration_brings_integer_coverage_within_three_points():
    raw, model, X_test, k_test = over_confident_integer_models()
    raw_errors = coverage_errors(pit(k_test, raw.predict_dist(X_test), discrete=True,
                                     random_state=0))
    errors = coverage_errors(pit(k_test, model.predict_dist(X_test), discrete=True, random_state=0))
    assert np.max(np.abs(raw_errors)) > 0.1
    assert np.max(np.abs(errors)) <= 0.03
    assert model.score(X_test, k_test) > raw_log_probability(raw, X_test, k_test) + 0.05


def raw_log_probability(model, X, k):
    dist = model.predict_dist(X)
    return float(np.mean(np.log(dist.cdf(k + 0.5) - dist.cdf(k - 0.5))))


def test_continuous_map_of_randomised_pit_values_leaves_integer_coverage_off():
    # What discrete=True does instead of this: the map fitted to the same
    # held-out rows' randomised PIT values, as if they were continuous.
    raw, model, X_test, k_test = over_confident_integer_models()
    naive = RecalibratedDistribution(raw.predict_dist(X_test), CalibrationMap(model.pit_values_))
    errors = coverage_errors(pit(k_test, naive, discrete=True, random_state=0))
    assert np.max(np.abs(errors)) > 0.03


# ------------------------------------------------------------ the estimator
def test_discrete_recalibration_refuses_non_integer_targets():
    X, y = sample_data(50, seed=20)
    with pytest.raises(ValueError, match="discrete=True needs integer targets"):
        RecalibratedRegressor(WrongScaleIntegerRegressor(), discrete=True).fit(X, y)


def test_discrete_fit_is_seeded_by_the_estimator_random_state():
    X, k = sample_integer_data(300, seed=21)

    def pit_values(seed):
        estimator = WrongScaleIntegerRegressor(0.6, random_state=seed)
        return RecalibratedRegressor(estimator, cv=3, discrete=True).fit(X, k).pit_values_

    np.testing.assert_array_equal(pit_values(0), pit_values(0))
    assert not np.allclose(pit_values(1), pit_values(0))


def test_discrete_score_is_the_mean_log_probability_of_the_integers():
    X, k = sample_integer_data(400, seed=22)
    model = RecalibratedRegressor(WrongScaleIntegerRegressor(0.6), cv=3, discrete=True).fit(X, k)
    dist = model.predict_dist(X)
    expected = np.mean(np.log(dist.cdf(k + 0.5) - dist.cdf(k - 0.5)))
    assert model.score(X, k) == pytest.approx(expected, rel=1e-12)


def test_discrete_score_of_integers_far_in_either_tail_matches_the_density():
    # Both CDF values round to 1 far in the upper tail; the probability of the
    # integer is then the integral of the density over its unit interval, which
    # for an integer 10+ standard deviations out is close to the density there.
    X, k = sample_integer_data(400, seed=22)
    model = RecalibratedRegressor(WrongScaleIntegerRegressor(0.6), cv=3, discrete=True).fit(X, k)
    dist = model.predict_dist(X[:1])
    centre, spread = float(dist.mean()[0]), float(dist.std()[0])
    for sds in (15, -15, 40, -40):
        far = np.round(centre + sds * spread)
        score = model.score(X[:1], [far])
        grid = far + np.linspace(-0.5, 0.5, 20001)
        log_density = dist.logpdf(grid[None, :])[0]
        exact = logsumexp(np.logaddexp(log_density[1:], log_density[:-1]) - np.log(2.0)) \
            + np.log(grid[1] - grid[0])  # the trapezoid rule, in log space
        assert np.isfinite(score) and score == pytest.approx(exact, abs=2e-3)
        # not log(tiny) = -708.4, the floor of a probability that rounded to 0
        assert abs(score + 708.4) > 1.0


def test_recalibrated_score_checks_its_weights_and_ignores_zero_weight_rows():
    X, k = sample_integer_data(400, seed=22)
    model = RecalibratedRegressor(WrongScaleIntegerRegressor(0.6), cv=3, discrete=True).fit(X, k)
    for bad, message in (([1, -1, 1], "Negative"), ([1, np.nan, 1], "NaN"),
                         ([0, 0, 0], "non-zero sum"), ([1, 1], "shape")):
        with pytest.raises(ValueError, match=message):
            model.score(X[:3], k[:3], sample_weight=bad)
    weights = np.array([2.0, 0.0, 1.0])
    dist = model.predict_dist(X[:3])
    log_probability = np.log(dist.cdf(k[:3] + 0.5) - dist.cdf(k[:3] - 0.5))
    assert model.score(X[:3], k[:3], sample_weight=weights) == pytest.approx(
        (2 * log_probability[0] + log_probability[2]) / 3, rel=1e-12)


class RecordingIntegerRegressor(WrongScaleIntegerRegressor):
    """Keeps the targets it was fitted on."""

    def fit(self, X, y):
        self.fitted_targets_ = np.asarray(y, dtype=float)
        return super().fit(X, y)


def test_discrete_models_are_fitted_on_dequantised_integers():
    X, k = sample_integer_data(3000, seed=23)
    model = RecalibratedRegressor(RecordingIntegerRegressor(random_state=0), discrete=True)
    noise = model.fit(X, k).estimator_.fitted_targets_ - k
    assert np.all(np.abs(noise) < 0.5)
    assert np.std(noise) == pytest.approx(np.sqrt(1 / 12), rel=0.05)


def test_discrete_recalibrated_skebm_estimator_clones_and_pickles():
    X, k = sample_integer_data(240, seed=24)
    estimator = EnergyRegressor(max_epochs=2, hidden_size=8, n_noise_samples=16,
                                n_inference_samples=64, early_stopping=True, random_state=0)
    model = RecalibratedRegressor(estimator, cv=3, discrete=True, n_fits=1).fit(X, k)
    # The final model's own held-out rows get randomised PIT values in their
    # intervals, with the uniform draws of those same rows.
    rows = model.estimator_.validation_indices_
    lower, upper = pit_intervals(model.estimator_.predict_dist(X[rows]), k[rows])
    uniforms = dequantise(k, member_seed(estimator))[1]
    assert len(rows) == 24
    np.testing.assert_allclose(model.final_pit_values_,
                               randomised_pit(lower, upper, uniforms[rows]))
    restored = pickle.loads(pickle.dumps(model))
    assert restored.score(X[:20], k[:20]) == model.score(X[:20], k[:20])
    np.testing.assert_allclose(clone(model).fit(X, k).pit_values_, model.pit_values_)
