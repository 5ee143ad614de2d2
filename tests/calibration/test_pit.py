"""PIT values and calibration error against densities known in closed form."""

import numpy as np
import pytest
from scipy import stats

from skebm.calibration import calibration_error, pit
from skebm.distributions import GaussianMixtureDistribution
from tests.calibration.helpers import WrongScaleRegressor, sample_data, true_distribution


def test_pit_of_the_true_density_is_uniform():
    X, y = sample_data(3000, seed=1)
    values = pit(y, true_distribution(X))
    assert values.shape == (3000,)
    assert stats.kstest(values, "uniform").pvalue > 0.01
    assert calibration_error(values) < 0.02


def test_pit_of_an_over_confident_model_is_u_shaped():
    X, y = sample_data(3000, seed=2)
    model = WrongScaleRegressor(std_factor=0.5).fit(X, y)
    values = pit(y, model.predict_dist(X))
    counts, _ = np.histogram(values, bins=10, range=(0, 1))
    fractions = counts / counts.sum()
    assert fractions[0] > 0.15 and fractions[-1] > 0.15  # uniform: 0.10 each
    assert fractions[4] < 0.08 and fractions[5] < 0.08
    assert calibration_error(values) > 0.03  # calibrated: about 0.01 at n = 3000


def test_pit_of_an_under_confident_model_piles_up_in_the_middle():
    X, y = sample_data(3000, seed=3)
    values = pit(y, WrongScaleRegressor(std_factor=2.0).fit(X, y).predict_dist(X))
    counts, _ = np.histogram(values, bins=10, range=(0, 1))
    assert counts[4] + counts[5] > 2 * (counts[0] + counts[-1])


def test_pit_of_multi_dimensional_targets_is_per_marginal():
    rng = np.random.default_rng(4)
    n = 2000
    means = rng.normal(size=(n, 1, 2))
    stds = np.exp(rng.normal(size=(n, 1, 2)) * 0.3)
    dist = GaussianMixtureDistribution(np.zeros((n, 1)), means, stds)
    y = means[:, 0] + stds[:, 0] * rng.normal(size=(n, 2))
    values = pit(y, dist)
    assert values.shape == (n, 2)
    expected = stats.norm.cdf((y - means[:, 0]) / stds[:, 0])
    np.testing.assert_allclose(values, expected, atol=1e-12)
    assert calibration_error(values).shape == (2,)


def test_pit_accepts_a_column_vector_for_one_dimensional_targets():
    X, y = sample_data(50, seed=5)
    np.testing.assert_array_equal(pit(y[:, None], true_distribution(X)),
                                  pit(y, true_distribution(X)))


def test_pit_rejects_a_model_in_place_of_its_distributions():
    X, y = sample_data(10, seed=6)
    model = WrongScaleRegressor(std_factor=1.0).fit(X, y)
    with pytest.raises(TypeError, match=r"model\.predict_dist\(X\)"):
        pit(y, model)


def test_pit_takes_options_by_keyword_only():
    X, y = sample_data(10, seed=6)
    with pytest.raises(TypeError):
        pit(y, true_distribution(X), True)


def test_pit_rejects_targets_of_the_wrong_shape():
    X, y = sample_data(10, seed=6)
    with pytest.raises(ValueError, match="shape"):
        pit(y[:5], true_distribution(X))


def test_calibration_error_is_exact_on_simple_cases():
    assert calibration_error(np.full(10, 0.5)) == pytest.approx(0.25)
    assert calibration_error(np.zeros(10)) == pytest.approx(0.5)
    n = 40
    assert calibration_error((np.arange(n) + 0.5) / n) == pytest.approx(1 / (4 * n))


@pytest.mark.parametrize("bad", [np.array([0.2, 1.5]), np.array([np.nan]), np.array(["a"])])
def test_calibration_error_rejects_values_outside_the_unit_interval(bad):
    with pytest.raises((ValueError, TypeError)):
        calibration_error(bad)
