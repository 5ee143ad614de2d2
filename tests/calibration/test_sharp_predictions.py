"""Recalibrated and ensembled distributions of sharp predictions: samples, moments, modes."""

import numpy as np
import pytest
from scipy import optimize, stats

from skebm.calibration import (
    CalibrationMap,
    EqualMixtureDistribution,
    RecalibratedDistribution,
    RecalibratedRegressor,
)
from skebm.distributions import GaussianMixtureDistribution
from tests.calibration.helpers import WrongScaleRegressor, sample_data

IDENTITY = CalibrationMap(np.linspace(0, 1, 10001), n_knots=10)


def sharp_peak(centre=0.0):
    """0.995 N(centre, 0.001^2) + 0.005 N(centre, 1): a sharp peak on a broad background."""
    return GaussianMixtureDistribution(np.log([[0.995, 0.005]]), np.full((1, 2, 1), centre),
                                       np.array([[[0.001], [1.0]]]))


def normal(mean, std):
    return GaussianMixtureDistribution(np.zeros((1, 1)), np.full((1, 1, 1), mean),
                                       np.full((1, 1, 1), std))


def assert_samples_follow_cdf(dist, n_samples=100_000):
    draws = dist.sample(n_samples, random_state=0)[0]

    def cdf(y):
        return dist.cdf(y[None, :])[0]

    # Four times the KS statistic's 1 % critical value (1.63 / sqrt(n) = 0.005).
    assert stats.kstest(draws, cdf).statistic < 0.01
    sample_iqr = np.subtract(*np.quantile(draws, [0.75, 0.25]))
    assert sample_iqr == pytest.approx((dist.ppf(0.75) - dist.ppf(0.25))[0], rel=0.03)


def test_recalibrated_samples_of_a_sharp_peak_follow_its_cdf():
    assert_samples_follow_cdf(RecalibratedDistribution(sharp_peak(), IDENTITY))


def test_recalibrated_moments_of_a_sharp_peak_match_the_closed_form():
    base = sharp_peak(centre=3.0)
    dist = RecalibratedDistribution(base, IDENTITY)
    assert dist.var()[0] == pytest.approx(base.var()[0], rel=1e-4)  # 0.005001
    assert dist.mean()[0] == pytest.approx(3.0, abs=1e-6)


def test_ensembled_samples_and_moments_of_sharp_peaks_are_exact():
    members = [RecalibratedDistribution(sharp_peak(), IDENTITY),
               RecalibratedDistribution(sharp_peak(0.002), IDENTITY)]
    dist = EqualMixtureDistribution(members)
    assert_samples_follow_cdf(dist)
    # Law of total variance over the two members' closed forms.
    expected = np.mean([m.base.var()[0] for m in members]) + 0.001**2
    assert dist.var()[0] == pytest.approx(expected, rel=1e-4)


def test_recalibrated_mode_is_the_top_of_the_stepped_density():
    # R' is constant on each piece of the map, so the density is s_j phi(y) on
    # [Phi^-1(k_j), Phi^-1(k_j+1)]: its top is on the piece where s_j times phi
    # at the point nearest 0 is largest.
    rng = np.random.default_rng(0)
    calibration = CalibrationMap(stats.norm.cdf(0.7 + 0.6 * rng.normal(size=5000)), n_knots=9)
    edges = stats.norm.ppf(calibration.knots_)
    nearest = np.clip(0.0, edges[:-1], edges[1:])
    expected = nearest[np.argmax(calibration.slopes_ * stats.norm.pdf(nearest))]
    dist = RecalibratedDistribution(normal(0.0, 1.0), calibration)
    assert dist.mode()[0] == pytest.approx(expected, abs=1e-8)


def test_recalibrated_mode_under_the_identity_map_is_the_base_mode():
    dist = RecalibratedDistribution(sharp_peak(centre=-2.0), IDENTITY)
    assert dist.mode()[0] == pytest.approx(-2.0, abs=1e-9)


def test_ensemble_mode_is_the_top_of_the_averaged_density():
    dist = EqualMixtureDistribution([normal(0.0, 1.0), normal(5.0, 0.1)])

    def slope(y):  # derivative of the averaged density
        return -(y * stats.norm.pdf(y) + (y - 5.0) / 0.01 * stats.norm.pdf(y, 5.0, 0.1)) / 2

    expected = optimize.brentq(slope, 4.9, 5.0, xtol=1e-14)  # 5 - 1.9e-8
    # A search on density values resolves the top to about sqrt(1e-16) of the peak's width.
    assert dist.mode()[0] == pytest.approx(expected, abs=5e-9)


@pytest.mark.parametrize("ensemble", [False, True])
def test_recalibrated_regressor_predicts_modes(ensemble):
    X, y = sample_data(300, seed=0)
    model = RecalibratedRegressor(WrongScaleRegressor(0.5), cv=3, ensemble=ensemble).fit(X, y)
    modes = model.predict(X[:5], kind="mode")
    np.testing.assert_array_equal(modes, model.predict_dist(X[:5]).mode())
    assert modes.shape == (5,) and np.all(np.isfinite(modes))
