"""The calibration map, the recalibrated distribution and RecalibratedRegressor."""

import pickle

import numpy as np
import pytest
from helpers import TINY
from scipy import stats
from sklearn.base import clone
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm.calibration import (
    CalibrationMap,
    EqualMixtureDistribution,
    RecalibratedDistribution,
    RecalibratedRegressor,
    calibration_error,
    pit,
)
from skebm.distributions import GaussianMixtureDistribution
from skebm.metrics import interval_coverage, negative_log_likelihood
from skebm.pipeline import predict_dist
from tests.calibration.helpers import WrongScaleRegressor, sample_data, true_distribution

LEVELS = (0.5, 0.8, 0.9, 0.95)


def standard_normals(n):
    return GaussianMixtureDistribution(np.zeros((n, 1)), np.zeros((n, 1, 1)), np.ones((n, 1, 1)))


def map_for_normal_with_std(std, n=20000, n_knots=30):
    """The map taking N(0, 1) to N(0, std^2): PIT values of N(0, std^2) data under N(0, 1)."""
    rng = np.random.default_rng(0)
    return CalibrationMap(stats.norm.cdf(std * rng.normal(size=n)), n_knots)


# ---------------------------------------------------------------- the map
def test_map_is_continuous_strictly_increasing_and_onto_the_unit_interval():
    rng = np.random.default_rng(0)
    values = np.concatenate([np.zeros(50), rng.beta(0.3, 0.3, size=500), np.ones(50)])
    calibration = CalibrationMap(values, n_knots=12)
    grid = np.linspace(0, 1, 10001)
    mapped = calibration(grid)
    assert mapped[0] == 0.0 and mapped[-1] == 1.0
    assert np.all(np.diff(mapped) > 0)
    assert np.all(calibration.slopes_ > 0) and np.all(calibration.slopes_ <= 1000 * (1 + 1e-9))
    np.testing.assert_allclose(calibration.inverse(mapped), grid, atol=1e-12)


def test_map_derivative_matches_finite_differences():
    calibration = map_for_normal_with_std(2.0, n_knots=10)
    points = np.linspace(0.01, 0.99, 97)
    points = points[np.min(np.abs(points[:, None] - calibration.knots_), axis=1) > 1e-4]
    step = 1e-6
    numeric = (calibration(points + step) - calibration(points - step)) / (2 * step)
    np.testing.assert_allclose(np.exp(calibration.log_derivative(points)), numeric, rtol=1e-6)


def test_map_of_uniform_pit_values_is_close_to_the_identity():
    calibration = CalibrationMap(np.random.default_rng(1).random(20000), n_knots=10)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(calibration(grid), grid, atol=0.015)


def test_auto_knots_are_few_for_calibrated_pit_values_and_many_for_structured_ones():
    rng = np.random.default_rng(2)
    assert CalibrationMap(rng.random(3000)).n_knots <= 4
    assert CalibrationMap(stats.norm.cdf(2.5 * rng.normal(size=3000))).n_knots >= 16
    few = stats.norm.cdf(2.5 * rng.normal(size=40))
    assert CalibrationMap(few).n_knots <= 40 // 8  # at most one piece per 8 values


def test_auto_knots_give_fresh_pit_values_more_likelihood_than_the_cube_root_rule():
    # Over-confident model (PIT of N(0, 2^2) data under N(0, 1)), 300 held-out rows:
    # the old rule used round(300 ** (1/3)) = 7 pieces.
    rng = np.random.default_rng(3)
    training, fresh = (stats.norm.cdf(2.0 * rng.normal(size=n)) for n in (300, 100000))
    auto, cube_root = CalibrationMap(training), CalibrationMap(training, n_knots=7)
    assert auto.n_knots != 7
    assert (np.mean(auto.log_derivative(fresh))
            > np.mean(cube_root.log_derivative(fresh)) + 0.005)


def test_auto_knots_depend_only_on_the_pit_values():
    values = np.random.default_rng(4).beta(0.5, 0.5, size=500)
    np.testing.assert_array_equal(CalibrationMap(values).knots_, CalibrationMap(values).knots_)
    with pytest.raises(ValueError, match="'auto'"):
        CalibrationMap(values, n_knots="many")


# ------------------------------------------------------ the distribution
def test_recalibrated_normal_becomes_the_wider_normal():
    dist = RecalibratedDistribution(standard_normals(3), map_for_normal_with_std(1.5))
    y = np.array([-2.0, 0.5, 2.0])
    np.testing.assert_allclose(dist.cdf(y), stats.norm.cdf(y, scale=1.5), atol=0.01)
    np.testing.assert_allclose(dist.ppf(0.95), stats.norm.ppf(0.95, scale=1.5), rtol=0.03)
    np.testing.assert_allclose(dist.std(), 1.5, rtol=0.03)
    np.testing.assert_allclose(dist.mean(), 0.0, atol=0.03)


def test_recalibrated_density_integrates_to_its_cdf():
    dist = RecalibratedDistribution(standard_normals(2), map_for_normal_with_std(0.5, n_knots=8))
    grid = np.linspace(-8, 8, 200001)
    density = dist.pdf(np.broadcast_to(grid, (2, grid.size)))
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (density[0, 1:] + density[0, :-1]))])
    cumulative *= grid[1] - grid[0]
    assert cumulative[-1] == pytest.approx(1.0, abs=1e-4)  # trapezoid error at the kinks
    checks = np.array([-1.0, -0.2, 0.3, 1.5])
    np.testing.assert_allclose(np.interp(checks, grid, cumulative),
                               dist.cdf(np.broadcast_to(checks, (2, 4)))[0], atol=1e-4)
    # the mean and variance agree with the density
    mean = np.sum(grid * density[0]) * (grid[1] - grid[0])
    variance = np.sum((grid - mean) ** 2 * density[0]) * (grid[1] - grid[0])
    assert dist.mean()[0] == pytest.approx(mean, abs=1e-4)
    assert dist.var()[0] == pytest.approx(variance, rel=1e-3)


def test_recalibrated_quantiles_invert_the_cdf_and_samples_follow_it():
    dist = RecalibratedDistribution(standard_normals(4), map_for_normal_with_std(1.7, n_knots=9))
    for level in (0.025, 0.3, 0.5, 0.9):
        np.testing.assert_allclose(dist.cdf(dist.ppf(level)), level, atol=1e-9)
    draws = dist[1].sample(20000, random_state=0)[0]
    assert stats.kstest(draws, lambda y: dist[:1].cdf(np.atleast_2d(y))[0]).pvalue > 0.01
    assert dist.sample(3, random_state=0).shape == (4, 3)


def test_recalibrated_distribution_indexes_by_row():
    base = true_distribution(np.linspace(-1, 1, 6)[:, None])
    dist = RecalibratedDistribution(base, map_for_normal_with_std(1.5))
    np.testing.assert_allclose(dist[2:4].mean(), dist.mean()[2:4])
    assert len(dist[[0, 5]]) == 2


def test_editing_returned_moments_does_not_change_the_distribution():
    dist = RecalibratedDistribution(standard_normals(3), map_for_normal_with_std(1.5))
    mean, var = dist.mean(), dist.var()
    dist.mean()[:] = 99.0
    dist.var()[:] = -1.0
    np.testing.assert_array_equal(dist.mean(), mean)
    np.testing.assert_array_equal(dist.var(), var)
    assert np.all(np.isfinite(dist.std()))


def test_recalibrated_distribution_refuses_multi_dimensional_targets():
    base = GaussianMixtureDistribution(np.zeros((2, 1)), np.zeros((2, 1, 2)), np.ones((2, 1, 2)))
    with pytest.raises(ValueError, match="1-D targets"):
        RecalibratedDistribution(base, map_for_normal_with_std(1.0))


# ------------------------------------------------------------ the estimator
@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("std_factor", [0.5, 2.0])
def test_recalibration_restores_interval_coverage_on_held_out_data(std_factor, ensemble):
    X, y = sample_data(3000, seed=10)
    X_test, y_test = sample_data(4000, seed=11)
    raw = WrongScaleRegressor(std_factor).fit(X, y)
    model = RecalibratedRegressor(WrongScaleRegressor(std_factor), ensemble=ensemble).fit(X, y)
    raw_dist, dist = raw.predict_dist(X_test), model.predict_dist(X_test)
    raw_errors = [interval_coverage(y_test, raw_dist, confidence=level) - level for level in LEVELS]
    assert max(np.abs(raw_errors)) > 0.1
    for level in LEVELS:
        assert abs(interval_coverage(y_test, dist, confidence=level) - level) <= 0.03
    assert calibration_error(pit(y_test, model.predict_dist(X_test))) < 0.02
    assert (negative_log_likelihood(y_test, dist)
            < negative_log_likelihood(y_test, raw_dist) - 0.05)


def test_recalibrating_a_calibrated_model_costs_little_likelihood():
    X, y = sample_data(2000, seed=12)
    X_test, y_test = sample_data(4000, seed=13)
    model = RecalibratedRegressor(WrongScaleRegressor(1.0)).fit(X, y)
    nll_raw = negative_log_likelihood(y_test, true_distribution(X_test))
    assert negative_log_likelihood(y_test, model.predict_dist(X_test)) < nll_raw + 0.02


def test_recalibrated_regressor_rejects_multi_dimensional_targets():
    X, y = sample_data(50, seed=14)
    with pytest.raises(ValueError, match="1-D targets only"):
        RecalibratedRegressor(WrongScaleRegressor()).fit(X, np.stack([y, y], axis=1))


@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("estimator", [
    EnergyRegressor(**TINY, n_inference_samples=64),
    make_pipeline(StandardScaler(), DistilledMDNRegressor(**TINY)),
], ids=["energy", "distilled-pipeline"])
def test_recalibrated_skebm_estimators_predict_clone_and_pickle(estimator, ensemble):
    X, y = sample_data(240, seed=15)
    model = RecalibratedRegressor(estimator, cv=3, ensemble=ensemble).fit(X, y)
    dist = model.predict_dist(X[:5])
    assert isinstance(dist, EqualMixtureDistribution if ensemble else RecalibratedDistribution)
    assert model.predict(X[:5]).shape == (5,)
    assert model.sample(X[:5], n_samples=7, random_state=0).shape == (5, 7)
    assert np.isfinite(model.score(X, y))
    assert model.pit_values_.shape == (240,)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_dist(X[:5]).logpdf(y[:5]), dist.logpdf(y[:5]))
    refitted = clone(model).fit(X, y)
    np.testing.assert_allclose(refitted.predict(X[:5]), model.predict(X[:5]))


def test_the_final_skebm_model_adds_its_early_stopping_rows_to_the_map():
    X, y = sample_data(400, seed=16)
    base = make_pipeline(StandardScaler(), DistilledMDNRegressor(**TINY, early_stopping=True))
    model = RecalibratedRegressor(base, cv=3, n_fits=1).fit(X, y)
    rows = model.estimator_[-1].validation_indices_
    assert len(rows) == 40 and model.final_pit_values_.shape == (40,)
    np.testing.assert_allclose(model.final_pit_values_,
                               pit(y[rows], predict_dist(model.estimator_, X[rows])))
    expected = CalibrationMap(np.concatenate([model.pit_values_, model.final_pit_values_]))
    np.testing.assert_array_equal(model.calibration_.knots_, expected.knots_)


class ResamplingPipeline(Pipeline):
    """Stands for a Pipeline subclass (imbalanced-learn's) whose steps may resample rows."""


def test_a_pipeline_subclass_gets_the_map_from_the_fold_models_alone():
    X, y = sample_data(400, seed=16)
    base = ResamplingPipeline([("model", DistilledMDNRegressor(**TINY, early_stopping=True))])
    model = RecalibratedRegressor(base, cv=3).fit(X, y)
    assert len(model.estimator_[-1].validation_indices_) == 40  # indices of unknown rows
    assert model.final_pit_values_.size == 0
    np.testing.assert_array_equal(model.calibration_.knots_,
                                  CalibrationMap(model.pit_values_).knots_)


@pytest.mark.parametrize("ensemble", [False, True])
def test_sample_without_a_seed_repeats_and_follows_the_estimator_random_state(ensemble):
    X, y = sample_data(300, seed=25)

    def fitted(seed):
        return RecalibratedRegressor(WrongScaleRegressor(0.5, random_state=seed), cv=3,
                                     ensemble=ensemble).fit(X, y)

    model = fitted(0)
    first = model.sample(X[:4], n_samples=6)
    np.testing.assert_array_equal(model.sample(X[:4], n_samples=6), first)
    np.testing.assert_array_equal(fitted(0).sample(X[:4], n_samples=6), first)
    assert not np.allclose(fitted(1).sample(X[:4], n_samples=6), first)
    assert not np.allclose(model.sample(X[:4], n_samples=6, random_state=5), first)
