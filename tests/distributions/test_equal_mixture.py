"""EqualMixtureDistribution with multi-D members: marginals, moments, samples and modes."""

import numpy as np
import pytest
from scipy import stats

from skebm.distributions import EqualMixtureDistribution, GaussianMixtureDistribution


def gaussian(means, std):
    """One isotropic 2-D Gaussian per row: ``means (n, 2)``, a common ``std``."""
    means = np.asarray(means, dtype=float)
    n = len(means)
    return GaussianMixtureDistribution(np.zeros((n, 1)), means[:, None, :],
                                       np.full((n, 1, 2), std))


@pytest.fixture
def mixture():
    left = gaussian([[-1.0, 0.0], [0.0, 2.0]], 0.5)
    right = gaussian([[1.0, 0.0], [0.0, -2.0]], 0.5)
    return EqualMixtureDistribution([left, right])


def test_marginal_quantiles_solve_the_marginal_cdf(mixture):
    median = mixture.ppf(0.5)
    np.testing.assert_allclose(median[0], [0.0, 0.0], atol=1e-8)
    assert median[1, 0] == pytest.approx(0.0, abs=1e-8)
    # Row 1, axis 1 has almost no mass near its median 0: check the CDF there instead.
    marginal = 0.5 * (stats.norm.cdf(median[1, 1], 2, 0.5) + stats.norm.cdf(median[1, 1], -2, 0.5))
    assert marginal == pytest.approx(0.5, abs=1e-9)
    upper = mixture.ppf(0.9)
    # Row 0, axis 1 is N(0, 0.5^2) in both members; row 1, axis 0 likewise.
    assert upper[0, 1] == pytest.approx(0.5 * stats.norm.ppf(0.9), abs=1e-8)
    assert upper[1, 0] == pytest.approx(0.5 * stats.norm.ppf(0.9), abs=1e-8)
    # Row 0, axis 0 is 0.5 N(-1, 0.25) + 0.5 N(1, 0.25).
    marginal = 0.5 * (stats.norm.cdf(upper[0, 0], -1, 0.5) + stats.norm.cdf(upper[0, 0], 1, 0.5))
    assert marginal == pytest.approx(0.9, abs=1e-9)


def test_moments_follow_the_law_of_total_variance(mixture):
    np.testing.assert_allclose(mixture.mean(), np.zeros((2, 2)), atol=1e-12)
    np.testing.assert_allclose(mixture.var(), [[1.25, 0.25], [0.25, 4.25]], rtol=1e-12)


def test_samples_follow_the_mixture_and_commute_with_selection(mixture):
    draws = mixture.sample(20000, random_state=4)
    assert draws.shape == (2, 20000, 2)
    standard_error = np.sqrt(mixture.var() / 20000)
    assert np.all(np.abs(draws.mean(axis=1) - mixture.mean()) < 4 * standard_error)
    np.testing.assert_allclose(draws.var(axis=1), mixture.var(), rtol=0.05)
    # Row 0, axis 0 is bimodal: half of the draws on each side.
    assert np.mean(draws[0, :, 0] > 0) == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(mixture[1:].sample(50, random_state=9),
                                  mixture.sample(50, random_state=9)[1:])


def test_the_mode_is_a_stationary_point_at_least_as_high_as_every_member_mode():
    narrow = gaussian([[0.0, 0.0]], 0.3)
    broad = gaussian([[1.0, 1.0]], 1.0)
    mixture = EqualMixtureDistribution([narrow, broad])
    mode = mixture.mode()
    assert mode.shape == (1, 2)
    log_density = mixture.logpdf(mode)[0]
    for member_mode in ([[0.0, 0.0]], [[1.0, 1.0]]):
        assert log_density >= mixture.logpdf(np.array(member_mode))[0]
    # The broad member pulls the narrow peak towards (1, 1), equally on both axes.
    assert 0.0 < mode[0, 0] < 0.2 and mode[0, 0] == pytest.approx(mode[0, 1], abs=1e-6)
    step = 1e-4
    gradient = [(mixture.logpdf(mode + step * e)[0] - mixture.logpdf(mode - step * e)[0])
                / (2 * step) for e in np.eye(2)]
    np.testing.assert_allclose(gradient, 0.0, atol=1e-4)


def test_members_of_different_target_dimensions_are_refused():
    one_d = GaussianMixtureDistribution(np.zeros((1, 1)), np.zeros((1, 1, 1)), np.ones((1, 1, 1)))
    with pytest.raises(ValueError, match="target dimension"):
        EqualMixtureDistribution([one_d, gaussian([[0.0, 0.0]], 1.0)])
