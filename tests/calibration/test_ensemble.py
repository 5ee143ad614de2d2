"""The mixture of recalibrated fold models (``ensemble=True``) and its distribution."""

import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import KFold

from skebm.calibration import (
    CalibrationMap,
    EqualMixtureDistribution,
    RecalibratedDistribution,
    RecalibratedRegressor,
    pit,
)
from skebm.distributions import GaussianMixtureDistribution
from skebm.metrics import interval_coverage
from tests.calibration.helpers import (
    FitSizeDependentRegressor,
    HoldsOutRowsRegressor,
    WrongScaleRegressor,
    sample_data,
    true_distribution,
)

LEVELS = (0.5, 0.8, 0.9, 0.95)


def normals(means, stds):
    n = len(means)
    return GaussianMixtureDistribution(np.zeros((n, 1)), np.reshape(means, (n, 1, 1)),
                                       np.reshape(stds, (n, 1, 1)))


def two_normals():
    """Rows of N(-1, 1) and N(2, 0.5^2), mixed half and half."""
    return EqualMixtureDistribution([normals([-1.0, -1.0], [1.0, 1.0]),
                                     normals([2.0, 2.0], [0.5, 0.5])])


def reference_cdf(y):
    return 0.5 * stats.norm.cdf(y, -1.0, 1.0) + 0.5 * stats.norm.cdf(y, 2.0, 0.5)


def recalibrated_members(n_rows=3):
    """Two recalibrated normals with different maps: kinked CDFs, exact densities."""
    rng = np.random.default_rng(0)
    wide = CalibrationMap(stats.norm.cdf(1.6 * rng.normal(size=5000)), n_knots=9)
    narrow = CalibrationMap(stats.norm.cdf(0.6 * rng.normal(size=5000)), n_knots=6)
    return EqualMixtureDistribution([
        RecalibratedDistribution(normals(np.zeros(n_rows), np.ones(n_rows)), wide),
        RecalibratedDistribution(normals(np.full(n_rows, 0.5), np.ones(n_rows)), narrow),
    ])


# ------------------------------------------------------------ the distribution
def test_mixture_cdf_and_density_are_the_equal_weight_averages():
    dist = two_normals()
    y = np.array([[-2.0, 0.3, 2.5], [0.0, 1.9, 4.0]])
    np.testing.assert_allclose(dist.cdf(y), reference_cdf(y), atol=1e-14)
    expected = 0.5 * stats.norm.pdf(y, -1.0, 1.0) + 0.5 * stats.norm.pdf(y, 2.0, 0.5)
    np.testing.assert_allclose(dist.pdf(y), expected, rtol=1e-12)


@pytest.mark.parametrize("make", [two_normals, recalibrated_members])
def test_mixture_quantiles_invert_its_cdf(make):
    dist = make()
    for level in (1e-4, 0.025, 0.25, 0.5, 0.75, 0.975, 0.9999):
        np.testing.assert_allclose(dist.cdf(dist.ppf(level)), level, atol=1e-10)


def test_mixture_quantiles_match_a_reference_root_finder():
    from scipy.optimize import brentq

    dist = two_normals()
    for level in (0.1, 0.5, 0.9):
        root = brentq(lambda y, p=level: reference_cdf(y) - p, -10, 10, xtol=1e-14)
        np.testing.assert_allclose(dist.ppf(level), root, rtol=1e-10)


def test_mixture_density_integrates_to_its_cdf_and_gives_its_moments():
    dist = recalibrated_members(2)
    grid = np.linspace(-10, 10, 400001)
    density = dist.pdf(np.broadcast_to(grid, (2, grid.size)))[0]
    step = grid[1] - grid[0]
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (density[1:] + density[:-1]))]) * step
    checks = np.array([-1.5, 0.0, 0.7, 2.0])
    np.testing.assert_allclose(np.interp(checks, grid, cumulative),
                               dist.cdf(np.broadcast_to(checks, (2, 4)))[0], atol=1e-5)
    mean = np.sum(grid * density) * step
    variance = np.sum((grid - mean) ** 2 * density) * step
    assert dist.mean()[0] == pytest.approx(mean, abs=1e-3)
    assert dist.var()[0] == pytest.approx(variance, rel=2e-3)


def test_mixture_samples_follow_its_cdf():
    dist = two_normals()
    draws = dist[0].sample(20000, random_state=0)[0]
    assert stats.kstest(draws, reference_cdf).pvalue > 0.01
    assert dist.sample(5, random_state=1).shape == (2, 5)
    np.testing.assert_array_equal(dist.sample(5, random_state=1), dist.sample(5, random_state=1))


def test_mixture_indexes_by_row_and_checks_its_members():
    dist = recalibrated_members(5)
    np.testing.assert_allclose(dist[1:3].ppf(0.3), dist.ppf(0.3)[1:3])
    with pytest.raises(ValueError, match="same number of rows"):
        EqualMixtureDistribution([normals([0.0], [1.0]), normals([0.0, 1.0], [1.0, 1.0])])
    with pytest.raises(ValueError, match="at least one"):
        EqualMixtureDistribution([])


# ------------------------------------------------------------ the estimator
def test_ensemble_corrects_a_model_whose_calibration_depends_on_its_training_size():
    # Fold models (1000 rows each) are calibrated, so the learned maps are about the
    # identity; the model refitted on all 2000 rows is over-confident, and one map
    # learned from the fold models cannot know it. The mixture keeps the fold models.
    X, y = sample_data(2000, seed=20)
    X_test, y_test = sample_data(4000, seed=21)
    model = FitSizeDependentRegressor(reference_size=1000)
    refit = RecalibratedRegressor(model, cv=2, ensemble=False).fit(X, y)
    mixture = RecalibratedRegressor(model, cv=2, ensemble=True).fit(X, y)
    refit_errors = [interval_coverage(y_test, refit.predict_dist(X_test), confidence=lv) - lv
                    for lv in LEVELS]
    assert max(np.abs(refit_errors)) > 0.1
    for level in LEVELS:
        coverage = interval_coverage(y_test, mixture.predict_dist(X_test), confidence=level)
        assert abs(coverage - level) <= 0.03


def test_ensemble_keeps_each_fold_model_with_the_map_of_its_own_held_out_rows():
    X, y = sample_data(900, seed=22)
    folds = KFold(3, shuffle=True, random_state=0)
    model = RecalibratedRegressor(WrongScaleRegressor(0.5), cv=folds, n_knots=6,
                                  ensemble=True).fit(X, y)
    assert isinstance(model.predict_dist(X[:4]), EqualMixtureDistribution)
    assert len(model.estimators_) == len(model.calibrations_) == 3
    assert not hasattr(model, "estimator_")
    for (_, held_out), calibration in zip(folds.split(X), model.calibrations_):
        expected = CalibrationMap(model.pit_values_[held_out], n_knots=6)
        np.testing.assert_array_equal(calibration.knots_, expected.knots_)
    X_test = sample_data(5, seed=23)[0]
    members = [RecalibratedDistribution(true_distribution(X_test, 0.5), calibration)
               for calibration in model.calibrations_]
    np.testing.assert_allclose(model.predict_dist(X_test).logpdf(np.zeros(5)),
                               EqualMixtureDistribution(members).logpdf(np.zeros(5)))


def test_without_ensemble_one_map_is_fitted_on_all_cross_fitted_pit_values():
    X, y = sample_data(600, seed=24)
    model = RecalibratedRegressor(WrongScaleRegressor(0.5), cv=3, ensemble=False,
                                  n_knots=7).fit(X, y)
    assert isinstance(model.predict_dist(X[:4]), RecalibratedDistribution)
    assert not hasattr(model, "estimators_")
    expected = CalibrationMap(model.pit_values_, n_knots=7)
    np.testing.assert_array_equal(model.calibration_.knots_, expected.knots_)
    assert model.final_pit_values_.size == 0  # the estimator names no early-stopping rows


def test_the_final_model_map_also_learns_from_its_own_held_out_rows():
    # As above, the fold models (1000 rows) are calibrated and the final model
    # (2000 rows) is over-confident; it names 1000 rows it never trained on.
    # Their PIT values are U-shaped, so the map, fitted on them and the
    # cross-fitted (uniform) ones, widens the final model's intervals.
    X, y = sample_data(2000, seed=20)
    X_test, y_test = sample_data(4000, seed=21)
    model = RecalibratedRegressor(HoldsOutRowsRegressor(reference_size=1000), cv=2).fit(X, y)
    rows = model.estimator_.validation_indices_
    np.testing.assert_allclose(model.final_pit_values_,
                               pit(y[rows], model.estimator_.predict_dist(X[rows])))
    expected = CalibrationMap(np.concatenate([model.pit_values_, model.final_pit_values_]))
    np.testing.assert_array_equal(model.calibration_.knots_, expected.knots_)
    fold_only = RecalibratedRegressor(FitSizeDependentRegressor(reference_size=1000),
                                      cv=2).fit(X, y)
    for level in (0.8, 0.9, 0.95):  # where the final model misses by 14-16 points
        error = abs(interval_coverage(y_test, model.predict_dist(X_test), confidence=level) - level)
        fold_only_error = abs(interval_coverage(y_test, fold_only.predict_dist(X_test),
                                                confidence=level) - level)
        assert error < fold_only_error - 0.03


def test_refitting_with_the_other_ensemble_setting_predicts_with_the_new_one():
    X, y = sample_data(300, seed=26)
    model = RecalibratedRegressor(WrongScaleRegressor(0.5), cv=3, ensemble=True).fit(X, y)
    model.set_params(ensemble=False).fit(X, y)
    assert isinstance(model.predict_dist(X[:3]), RecalibratedDistribution)
    assert not hasattr(model, "estimators_")
    model.set_params(ensemble=True).fit(X, y)
    assert isinstance(model.predict_dist(X[:3]), EqualMixtureDistribution)
    assert not hasattr(model, "estimator_")


def test_ensemble_needs_two_held_out_rows_per_fold():
    X, y = sample_data(10, seed=3)
    with pytest.raises(ValueError, match="at least 2 .* holds out 1"):
        RecalibratedRegressor(WrongScaleRegressor(), cv=10, ensemble=True).fit(X, y)
    RecalibratedRegressor(WrongScaleRegressor(), cv=5, ensemble=True).fit(X, y)
