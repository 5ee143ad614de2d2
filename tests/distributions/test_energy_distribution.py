"""Property tests of EnergyDistribution.

Two sources of distributions:

* a fake evaluator whose energy is a known diagonal Gaussian per row (plus an
  arbitrary per-row constant, which the normaliser must absorb), with a wider
  Gaussian proposal, so that results can be checked against scipy;
* a tiny EnergyRegressor fitted once per module, for 1-D and 2-D targets, for
  the properties every distribution must have whatever the network learned.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from skebm import EnergyRegressor
from skebm._evaluator import EnergyEvaluator, quasi_random_draws
from skebm._quadrature import FineGrid
from skebm.distributions import ConditionalDistribution, EnergyDistribution
from skebm.nn import EnergyModel

FAST = settings(max_examples=25, deadline=None)
PROPOSAL_WIDTH = 1.3
"""Proposal standard deviation as a multiple of the energy's."""
N_SAMPLES = 4000


def importance_sampling_tolerances(target_dim, n_samples=N_SAMPLES, width=PROPOSAL_WIDTH):
    """Four plain Monte-Carlo standard errors of log Z, mean / sd and std / sd.

    For a Gaussian p and a Gaussian proposal ``width`` times wider, per
    dimension E_q[w^2] = r^2 / sqrt(2 r^2 - 1) and p^2 / q is Gaussian with
    variance a sd^2, a = r^2 / (2 r^2 - 1); the delta method gives the
    standard errors of the self-normalised estimates. Quasi-random draws do
    better than plain ones, so four of these bound the errors the estimator
    guarantees.
    """
    second_moment = (width**2 / np.sqrt(2 * width**2 - 1)) ** target_dim  # E_q[w^2] / E_q[w]^2
    a = width**2 / (2 * width**2 - 1)
    log_z = np.sqrt((second_moment - 1) / n_samples)
    mean = np.sqrt(second_moment * a / n_samples)
    std = 0.5 * np.sqrt(second_moment * (3 * a**2 - 2 * a + 1) / n_samples)
    return 4 * log_z, 4 * mean, 4 * std


class GaussianEvaluator:
    """Stands in for EnergyEvaluator: f(x_i, y) = log N(y; mu_i, diag s_i^2) + c_i.

    The proposal is N(mu_i, diag (PROPOSAL_WIDTH s_i)^2); draws share their
    base points across rows (common random numbers) and are the same scrambled
    Sobol points as the real evaluator's.
    """

    def __init__(self, means, stds, offsets):
        self.means, self.stds, self.offsets = means, stds, offsets
        self.n_rows, self.target_dim = means.shape
        self.target_scale = np.max(stds, axis=0)  # the real one's unit of standardisation
        self.target_mean = np.mean(means, axis=0)

    def fine_grid(self):
        low = np.min(self.means - 12.0 * self.stds)
        high = np.max(self.means + 12.0 * self.stds)
        size = 2**15 + 1
        return FineGrid(low, (high - low) / (size - 1), size, (0, size - 1))

    def proposal_components(self, rows):
        return (np.zeros((len(rows), 1)), self.means[rows, None],
                PROPOSAL_WIDTH * self.stds[rows, None])

    def log_density(self, rows, targets):
        """log f at targets ``(r, k, d)`` (or shared ``(1, k, d)``), ``(r, k)``."""
        targets = np.broadcast_to(targets, (len(rows),) + targets.shape[1:])
        log_density = stats.norm.logpdf(targets, self.means[rows, None], self.stds[rows, None])
        return log_density.sum(axis=2) + self.offsets[rows, None]

    def log_unnormalized(self, rows, targets=None, grid_nodes=None):
        if grid_nodes is not None:
            targets = self.fine_grid().values(grid_nodes)[..., None]
        return self.log_density(rows, targets)

    def proposal_draws(self, rows, n_samples, seed):
        _, normals = quasi_random_draws(n_samples, self.target_dim, seed)
        scale = PROPOSAL_WIDTH * self.stds[rows, None]
        draws = self.means[rows, None] + scale * normals
        log_q = stats.norm.logpdf(draws, self.means[rows, None], scale).sum(axis=2)
        return draws, log_q

    def ascend(self, rows, starts):
        """Exact ascent for a Gaussian: halve the distance to the mean, 60 times."""
        return self.means[rows] + 0.5**60 * (starts - self.means[rows])


@st.composite
def gaussian_energies(draw, target_dims=(1, 2)):
    n_rows = draw(st.integers(1, 4))
    target_dim = draw(st.sampled_from(target_dims))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    means = rng.uniform(-5.0, 5.0, size=(n_rows, target_dim))
    stds = np.exp(rng.uniform(-1.5, 1.0, size=(n_rows, target_dim)))
    offsets = rng.normal(scale=20.0, size=n_rows)
    return means, stds, offsets


def energy_distribution(params, n_samples=N_SAMPLES, seed=0):
    return EnergyDistribution(GaussianEvaluator(*params), n_samples=n_samples, seed=seed)


def points_around(dist, n_points, seed, spread=4.0):
    """``(n, n_points)`` or ``(n, n_points, d)`` points over each row's bulk and tails."""
    rng = np.random.default_rng(seed)
    centre, scale = np.atleast_1d(dist.mean()), np.atleast_1d(dist.std())
    shape = (len(dist), n_points, dist.target_dim)
    centre = centre.reshape(len(dist), 1, -1)
    points = centre + spread * scale.reshape(len(dist), 1, -1) * rng.standard_normal(shape)
    return points[..., 0] if dist.target_dim == 1 else points


# ====================================================================== exact (fake) energies
@FAST
@given(gaussian_energies(), st.integers(0, 2**16))
def test_logpdf_is_finite_and_matches_the_gaussian(params, seed):
    means, stds, _ = params
    dist = energy_distribution(params)
    points = points_around(dist, 9, seed).reshape(len(dist), 9, -1)
    expected = stats.norm.logpdf(points, means[:, None], stds[:, None]).sum(axis=2)
    logpdf = dist.logpdf(points[..., 0] if dist.target_dim == 1 else points)
    assert np.all(np.isfinite(logpdf))
    # Quadrature is accurate to ~1e-4 in 1-D; importance sampling to its Monte-Carlo error.
    tolerance = 1e-4 if dist.target_dim == 1 else importance_sampling_tolerances(2)[0]
    np.testing.assert_allclose(logpdf, expected, atol=tolerance)


@FAST
@given(gaussian_energies(target_dims=(1,)))
def test_grid_density_integrates_to_one_in_1d(params):
    dist = energy_distribution(params)
    grid = np.linspace(-40.0, 40.0, 40001)
    density = dist.pdf(np.broadcast_to(grid, (len(dist), grid.size)))
    np.testing.assert_allclose(np.trapezoid(density, grid, axis=1), 1.0, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(gaussian_energies(target_dims=(2,)))
def test_importance_sampled_density_integrates_to_about_one_in_2d(params):
    means, stds, _ = params
    dist = energy_distribution(params)
    axes = [np.linspace(means[:, j] - 8 * stds[:, j], means[:, j] + 8 * stds[:, j], 161).T
            for j in range(2)]  # (n, 161) per dimension
    first, second = (np.repeat(axes[0], 161, axis=1), np.tile(axes[1], (1, 161)))
    density = dist.pdf(np.stack([first, second], axis=2)).reshape(len(dist), 161, 161)
    steps = (axes[0][:, 1] - axes[0][:, 0]) * (axes[1][:, 1] - axes[1][:, 0])
    tolerance = importance_sampling_tolerances(2)[0] + 1e-3  # plus the 161 x 161 grid's error
    np.testing.assert_allclose(density.sum(axis=(1, 2)) * steps, 1.0, rtol=tolerance)


@FAST
@given(gaussian_energies(), st.integers(0, 2**16))
def test_cdf_is_in_the_unit_interval_and_non_decreasing(params, seed):
    dist = energy_distribution(params)
    points = np.sort(points_around(dist, 15, seed, spread=6.0), axis=1)  # sorted per dimension
    cdf = dist.cdf(points)
    assert np.all((cdf >= 0.0) & (cdf <= 1.0))
    assert np.all(np.diff(cdf, axis=1) >= -1e-12)


@FAST
@given(gaussian_energies(target_dims=(1,)), st.integers(0, 2**16))
def test_cdf_matches_the_gaussian_in_1d(params, seed):
    means, stds, _ = params
    dist = energy_distribution(params)
    points = points_around(dist, 9, seed)
    np.testing.assert_allclose(dist.cdf(points), stats.norm.cdf(points, means, stds), atol=1e-3)


@FAST
@given(gaussian_energies(target_dims=(1,)), st.floats(1e-4, 1.0 - 1e-4))
def test_ppf_inverts_the_cdf_in_1d(params, q):
    means, stds, _ = params
    dist = energy_distribution(params)
    quantile = dist.ppf(q)
    np.testing.assert_allclose(dist.cdf(quantile), q, atol=1e-9)
    np.testing.assert_allclose(quantile, stats.norm.ppf(q, means[:, 0], stds[:, 0]),
                               atol=0.02 * stds[:, 0].max() + 1e-3)


@FAST
@given(gaussian_energies(target_dims=(2,)), st.floats(0.05, 0.95))
def test_marginal_ppf_matches_the_gaussian_in_2d(params, q):
    means, stds, _ = params
    quantile = energy_distribution(params).ppf(q)
    np.testing.assert_allclose(quantile, stats.norm.ppf(q, means, stds), atol=0.15 * stds.max())


@FAST
@given(gaussian_energies(), st.floats(0.05, 0.45), st.floats(0.5, 0.95))
def test_intervals_are_nested_and_contain_the_median(params, narrow, wide):
    dist = energy_distribution(params)
    low_narrow, high_narrow = dist.interval(narrow)
    low_wide, high_wide = dist.interval(wide)
    median = dist.median()
    assert np.all(low_wide <= low_narrow) and np.all(low_narrow <= median)
    assert np.all(median <= high_narrow) and np.all(high_narrow <= high_wide)


@FAST
@given(gaussian_energies())
def test_moments_match_the_gaussian(params):
    means, stds, _ = params
    dist = energy_distribution(params)
    if dist.target_dim == 1:
        mean_tolerance = std_tolerance = 1e-4
    else:
        _, mean_tolerance, std_tolerance = importance_sampling_tolerances(2)
    mean = np.atleast_1d(dist.mean()).reshape(means.shape)
    np.testing.assert_array_less(np.abs(mean - means), mean_tolerance * stds)
    std = np.atleast_1d(dist.std()).reshape(stds.shape)
    np.testing.assert_allclose(std, stds, rtol=std_tolerance)


@FAST
@given(gaussian_energies(), st.integers(1, 50))
def test_sample_shapes(params, n_samples):
    dist = energy_distribution(params, n_samples=256)
    expected = (len(dist), n_samples) + ((dist.target_dim,) if dist.target_dim > 1 else ())
    draws = dist.sample(n_samples, random_state=0)
    assert draws.shape == expected and draws.dtype == np.float64
    assert np.all(np.isfinite(draws))


@pytest.mark.parametrize("target_dim", [1, 2])
def test_sample_moments_match_the_gaussian(target_dim):
    rng = np.random.default_rng(target_dim)
    params = (rng.uniform(-3, 3, (3, target_dim)), rng.uniform(0.3, 2, (3, target_dim)),
              np.zeros(3))
    draws = energy_distribution(params).sample(4000, random_state=1)
    draws = draws.reshape(3, 4000, target_dim)
    np.testing.assert_allclose(draws.mean(axis=1), params[0], atol=0.1 * params[1].max())
    np.testing.assert_allclose(draws.std(axis=1), params[1], rtol=0.1)


@pytest.mark.parametrize("target_dim", [2, 3])
def test_multivariate_samples_are_distinct_and_follow_the_distribution(target_dim):
    # At the default 256 importance-sampling draws, which sampling must not be limited to.
    rng = np.random.default_rng(target_dim)
    means, stds = rng.uniform(-3, 3, (2, target_dim)), rng.uniform(0.3, 2, (2, target_dim))
    dist = EnergyDistribution(GaussianEvaluator(means, stds, rng.normal(scale=5.0, size=2)))
    n = 20_000
    draws = dist.sample(n, random_state=0)
    for row in range(2):
        assert len(np.unique(draws[row, :, 0])) == n
        for dim in range(target_dim):  # each marginal is the Gaussian's
            exact = stats.norm(means[row, dim], stds[row, dim]).cdf
            assert stats.kstest(draws[row, :, dim], exact).pvalue > 1e-4
    # The model's own moments and joint CDF: four standard errors of the draws plus
    # four of the importance-sampling estimates (plain Monte Carlo bounds quasi-random).
    _, mean_error, std_error = importance_sampling_tolerances(target_dim, n_samples=256)
    sample_error = 4 / np.sqrt(n)
    np.testing.assert_array_less(np.abs(draws.mean(axis=1) - dist.mean()) / stds,
                                 sample_error + mean_error)
    np.testing.assert_allclose(draws.std(axis=1), dist.std(), rtol=sample_error + std_error)
    probe = dist.mean()
    empirical = np.mean(np.all(draws <= probe[:, None, :], axis=2), axis=1)
    np.testing.assert_allclose(empirical, dist.cdf(probe), atol=sample_error + mean_error)


@FAST
@given(gaussian_energies())
def test_mode_is_the_gaussian_mean(params):
    means, _, _ = params
    mode = energy_distribution(params).mode()
    np.testing.assert_allclose(np.atleast_1d(mode).reshape(means.shape), means, atol=1e-9)


@FAST
@given(gaussian_energies(), st.integers(0, 2**16))
def test_rows_of_a_sub_batch_match_the_whole_batch(params, seed):
    dist = energy_distribution(params)
    rows = np.random.default_rng(seed).permutation(len(dist))[: max(1, len(dist) // 2)]
    part = dist[rows]
    np.testing.assert_allclose(part.mean(), dist.mean()[rows], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(part.ppf(0.3), dist.ppf(0.3)[rows], rtol=1e-10, atol=1e-10)
    # Each row draws from its own random stream: batching does not change samples.
    np.testing.assert_array_equal(part.sample(7, random_state=seed),
                                  dist.sample(7, random_state=seed)[rows])


@pytest.mark.parametrize("target_dim", [1, 2])
def test_an_empty_selection_gives_empty_results(target_dim):
    params = (np.zeros((3, target_dim)), np.ones((3, target_dim)), np.zeros(3))
    empty = energy_distribution(params)[np.zeros(3, dtype=bool)]
    tail = (target_dim,) if target_dim > 1 else ()
    assert len(empty) == 0
    for values in (empty.mean(), empty.var(), empty.std(), empty.ppf(0.5), empty.mode()):
        assert values.shape == (0,) + tail
    assert empty.sample(4, random_state=0).shape == (0, 4) + tail
    # The pointwise hooks; the public wrappers reshape queries in distributions/_base.py.
    assert empty._logpdf_points(np.zeros((0, 5, target_dim))).shape == (0, 5)
    assert empty._cdf_points(np.zeros((0, 5, target_dim))).shape == (0, 5)


@pytest.mark.parametrize("target_dim", [1, 2])
def test_std_does_not_overflow_for_huge_targets(target_dim):
    means, stds = np.full((2, target_dim), 1e160), np.full((2, target_dim), 3e155)
    dist = energy_distribution((means, stds, np.zeros(2)))
    mean_tolerance, std_tolerance = (1e-4, 1e-4) if target_dim == 1 else \
        importance_sampling_tolerances(2)[1:]
    np.testing.assert_allclose(np.atleast_1d(dist.std()).reshape(stds.shape), stds,
                               rtol=std_tolerance)
    mean = np.atleast_1d(dist.mean()).reshape(means.shape)
    np.testing.assert_array_less(np.abs(mean - means), mean_tolerance * stds)


class TailModeEvaluator(GaussianEvaluator):
    """One row, a two-component mixture energy on the REAL evaluator's tailed 1-D grid.

    A tall narrow mode at 0 (density 1.2) and a low broad mode with more mass at
    15 (density 0.093), beyond the training range (-3, 3) in the coarse tails.
    """

    weights, centres, widths = np.array([0.3, 0.7]), np.array([0.0, 15.0]), np.array([0.1, 3.0])

    def __init__(self):
        super().__init__(np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1))
        model = EnergyModel(torch.nn.Linear(1, 4), 1, 2, 8).eval()
        real = EnergyEvaluator(model, torch.zeros(1, 1), np.zeros(1), np.ones(1), (-3.0, 3.0),
                               torch.device("cpu"))
        self.grid = real.fine_grid()

    def fine_grid(self):
        return self.grid

    def proposal_components(self, rows):
        return (np.log(self.weights)[None], self.centres[None, :, None],
                self.widths[None, :, None])

    def log_density(self, rows, targets):
        targets = np.broadcast_to(targets, (len(rows),) + targets.shape[1:])[..., 0]
        parts = [np.log(w) + stats.norm.logpdf(targets, c, s)
                 for w, c, s in zip(self.weights, self.centres, self.widths)]
        return np.logaddexp(*parts)

    def ascend(self, rows, starts):
        """The mode of the component whose basin holds each start."""
        return np.where(starts < 7.5, 0.0, 15.0)


def test_mode_starts_from_the_highest_density_not_the_most_mass():
    dist = EnergyDistribution(TailModeEvaluator())
    high, low = dist.logpdf(np.array([[0.0, 15.0]]))[0]
    assert high > low  # the premise: the mode at 0 is the higher one
    assert dist.mode()[0] == 0.0


@FAST
@given(gaussian_energies(target_dims=(1,)), st.integers(0, 2**16))
def test_samples_follow_the_cdf_in_1d(params, seed):
    dist = energy_distribution(params)
    draws = dist.sample(2000, random_state=seed)
    for row in range(len(dist)):
        result = stats.kstest(draws[row], lambda v, row=row: dist[row].cdf(v[None])[0])
        assert result.pvalue > 1e-4


@pytest.mark.parametrize("background_weight", [0.0, 0.2])
@pytest.mark.parametrize("target_dim", [1, 2])
def test_editing_returned_summaries_does_not_change_the_distribution(target_dim,
                                                                     background_weight):
    params = (np.zeros((3, target_dim)), np.ones((3, target_dim)), np.zeros(3))
    dist = EnergyDistribution(GaussianEvaluator(*params), n_samples=N_SAMPLES, seed=0,
                              background_weight=background_weight)
    y = np.zeros((3, target_dim)) if target_dim > 1 else np.zeros(3)
    before = [dist.mean(), dist.std(), dist.var(), dist.log_normalizer(), dist.logpdf(y)]
    for summary in (dist.mean(), dist.std(), dist.var(), dist.log_normalizer()):
        summary[...] = -7.0
    after = [dist.mean(), dist.std(), dist.var(), dist.log_normalizer(), dist.logpdf(y)]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)


def test_is_a_conditional_distribution():
    dist = energy_distribution((np.zeros((2, 1)), np.ones((2, 1)), np.zeros(2)))
    assert isinstance(dist, ConditionalDistribution) and len(dist) == 2
    assert "EnergyDistribution" in repr(dist)


# ====================================================================== with a background
BACKGROUND = 0.2
"""A large weight, so that a background handled wrongly shows in every check."""


def with_background(params, n_samples=N_SAMPLES):
    return EnergyDistribution(GaussianEvaluator(*params), n_samples=n_samples, seed=0,
                              background_weight=BACKGROUND)


def mixture_marginal(params, dim):
    """The exact marginal mixture of dimension ``dim``: cdf and pdf callables per row."""
    means, stds, _ = params
    evaluator = GaussianEvaluator(*params)
    centre, scale = evaluator.target_mean[dim], evaluator.target_scale[dim]

    def cdf(values, row):
        return ((1 - BACKGROUND) * stats.norm.cdf(values, means[row, dim], stds[row, dim])
                + BACKGROUND * stats.norm.cdf(values, centre, scale))

    return cdf, centre, scale


@FAST
@given(gaussian_energies(), st.integers(0, 2**16))
def test_background_logpdf_is_the_mixtures(params, seed):
    means, stds, _ = params
    dist = with_background(params)
    evaluator = GaussianEvaluator(*params)
    points = points_around(dist, 9, seed).reshape(len(dist), 9, -1)
    energy = stats.norm.logpdf(points, means[:, None], stds[:, None]).sum(axis=2)
    background = stats.norm.logpdf(points, evaluator.target_mean,
                                   evaluator.target_scale).sum(axis=2)
    expected = np.logaddexp(np.log1p(-BACKGROUND) + energy, np.log(BACKGROUND) + background)
    tolerance = 1e-4 if dist.target_dim == 1 else importance_sampling_tolerances(2)[0]
    np.testing.assert_allclose(dist.logpdf(points[..., 0] if dist.target_dim == 1 else points),
                               expected, atol=tolerance)


@FAST
@given(gaussian_energies(target_dims=(1,)), st.floats(1e-4, 1.0 - 1e-4))
def test_background_cdf_and_ppf_are_the_mixtures_in_1d(params, q):
    dist = with_background(params)
    cdf, _, _ = mixture_marginal(params, 0)
    quantile = dist.ppf(q)
    np.testing.assert_allclose(dist.cdf(quantile), q, atol=1e-9)  # an exact inverse ...
    for row in range(len(dist)):  # ... of the mixture's CDF
        assert cdf(quantile[row], row) == pytest.approx(q, abs=1e-3)


@FAST
@given(gaussian_energies(target_dims=(2,)), st.floats(0.02, 0.98))
def test_background_marginal_ppf_is_the_mixtures_in_2d(params, q):
    means, stds, _ = params
    quantile = with_background(params).ppf(q)
    for dim in range(2):
        cdf, centre, scale = mixture_marginal(params, dim)
        for row in range(len(means)):
            low = min(means[row, dim] - 10 * stds[row, dim], centre - 10 * scale)
            high = max(means[row, dim] + 10 * stds[row, dim], centre + 10 * scale)
            exact = optimize.brentq(lambda v, cdf=cdf, row=row: cdf(v, row) - q, low, high)
            assert quantile[row, dim] == pytest.approx(exact, abs=0.15 * stds.max())


@FAST
@given(gaussian_energies())
def test_background_moments_are_the_mixtures(params):
    means, stds, _ = params
    dist = with_background(params)
    evaluator = GaussianEvaluator(*params)
    centre, scale = evaluator.target_mean, evaluator.target_scale
    mean = (1 - BACKGROUND) * means + BACKGROUND * centre
    var = ((1 - BACKGROUND) * stds**2 + BACKGROUND * scale**2
           + BACKGROUND * (1 - BACKGROUND) * (means - centre) ** 2)
    shape = (len(means),) if dist.target_dim == 1 else means.shape
    tolerance = 1e-4 if dist.target_dim == 1 else 0.05
    np.testing.assert_allclose(dist.mean(), mean.reshape(shape),
                               atol=tolerance * np.sqrt(var.max()))
    np.testing.assert_allclose(dist.var(), var.reshape(shape), rtol=2 * tolerance)


@settings(max_examples=10, deadline=None)
@given(gaussian_energies(), st.integers(0, 2**16))
def test_background_samples_follow_the_mixture(params, seed):
    dist = with_background(params)
    draws = dist.sample(2000, random_state=seed).reshape(len(dist), 2000, -1)
    for dim in range(dist.target_dim):
        cdf, _, _ = mixture_marginal(params, dim)
        for row in range(len(dist)):
            result = stats.kstest(draws[row, :, dim], lambda v, cdf=cdf, row=row: cdf(v, row))
            assert result.pvalue > 1e-4


@pytest.mark.parametrize("target_dim", [1, 2])
def test_background_quantiles_stay_finite_at_extreme_probabilities(target_dim):
    rng = np.random.default_rng(1)  # 20 rows: some round the background's share up to 1
    params = (rng.normal(size=(20, target_dim)), np.exp(rng.normal(size=(20, target_dim))),
              np.zeros(20))
    dist = with_background(params, n_samples=256)
    quantiles = np.array([dist.ppf(q) for q in (1e-300, 1e-12, 0.5, 1 - 1e-12, 1 - 1e-16)])
    assert np.all(np.isfinite(quantiles))
    assert np.all(np.diff(quantiles, axis=0) >= 0.0)


@pytest.mark.parametrize(("weight", "expected"), [(0.2, [-5.0, 5.0]), (0.6, [0.0, 0.0])])
def test_background_mode_is_where_the_mixture_peaks(weight, expected):
    params = (np.array([[-5.0], [5.0]]), np.ones((2, 1)), np.zeros(2))  # background N(0, 1)
    dist = EnergyDistribution(GaussianEvaluator(*params), background_weight=weight)
    np.testing.assert_allclose(dist.mode(), expected, atol=1e-6)


def test_a_background_bounds_the_log_loss_far_from_the_energy():
    # Row 0 is certain of 0 (sd 0.01); row 1 makes the background N(0, 1).
    params = (np.zeros((2, 1)), np.array([[0.01], [1.0]]), np.zeros(2))
    far = np.array([1.0, 1.0])  # 100 of row 0's standard deviations out
    plain = EnergyDistribution(GaussianEvaluator(*params))
    mixed = EnergyDistribution(GaussianEvaluator(*params), background_weight=0.001)
    assert plain.logpdf(far)[0] < -4000.0
    assert mixed.logpdf(far)[0] == pytest.approx(np.log(0.001) + stats.norm.logpdf(1.0),
                                                 abs=1e-6)


# ====================================================================== with the proposal mixed in
PROPOSAL_WEIGHT = 0.3
PROPOSAL_SHIFT = 0.5
"""The proposal's mean lies this many of the energy's standard deviations above its mean."""


class ShiftedProposalEvaluator(GaussianEvaluator):
    """A GaussianEvaluator whose proposal is off-centre, so that mixing it in moves the mean."""

    def proposal_components(self, rows):
        log_weights, means, stds = super().proposal_components(rows)
        return log_weights, means + PROPOSAL_SHIFT * self.stds[rows, None], stds

    def proposal_draws(self, rows, n_samples, seed):
        _, normals = quasi_random_draws(n_samples, self.target_dim, seed)
        _, means, scale = self.proposal_components(rows)
        draws = means + scale * normals
        return draws, stats.norm.logpdf(draws, means, scale).sum(axis=2)


def with_proposal(params, weight=PROPOSAL_WEIGHT, background_weight=0.0):
    return EnergyDistribution(ShiftedProposalEvaluator(*params), n_samples=N_SAMPLES, seed=0,
                              background_weight=background_weight, proposal_weight=weight)


def proposal_mixture_parts(params, dim):
    """Per-dimension means and standard deviations ``(n,)`` of the energy and the proposal."""
    means, stds, _ = params
    return (means[:, dim], stds[:, dim], means[:, dim] + PROPOSAL_SHIFT * stds[:, dim],
            PROPOSAL_WIDTH * stds[:, dim])


@FAST
@given(gaussian_energies(), st.integers(0, 2**16))
def test_proposal_mixture_logpdf_is_the_mixtures(params, seed):
    means, stds, _ = params
    dist = with_proposal(params)
    points = points_around(dist, 9, seed).reshape(len(dist), 9, -1)
    energy = stats.norm.logpdf(points, means[:, None], stds[:, None]).sum(axis=2)
    proposal = stats.norm.logpdf(points, means[:, None] + PROPOSAL_SHIFT * stds[:, None],
                                 PROPOSAL_WIDTH * stds[:, None]).sum(axis=2)
    expected = np.logaddexp(np.log1p(-PROPOSAL_WEIGHT) + energy,
                            np.log(PROPOSAL_WEIGHT) + proposal)
    tolerance = 1e-4 if dist.target_dim == 1 else 2 * importance_sampling_tolerances(2)[0]
    np.testing.assert_allclose(dist.logpdf(points[..., 0] if dist.target_dim == 1 else points),
                               expected, atol=tolerance)
    # The normaliser reported is still that of exp f (the Gaussian's offset).
    plain = EnergyDistribution(ShiftedProposalEvaluator(*params), n_samples=N_SAMPLES, seed=0)
    np.testing.assert_allclose(dist.log_normalizer(), plain.log_normalizer(), atol=1e-12)


@FAST
@given(gaussian_energies(target_dims=(1,)), st.floats(1e-4, 1.0 - 1e-4))
def test_proposal_mixture_cdf_and_ppf_are_the_mixtures_in_1d(params, q):
    dist = with_proposal(params, background_weight=0.01)
    mean_p, std_p, mean_q, std_q = proposal_mixture_parts(params, 0)
    centre, scale = ShiftedProposalEvaluator(*params).target_mean[0], \
        ShiftedProposalEvaluator(*params).target_scale[0]

    def cdf(values):
        energy_share = ((1 - PROPOSAL_WEIGHT) * stats.norm.cdf(values, mean_p, std_p)
                        + PROPOSAL_WEIGHT * stats.norm.cdf(values, mean_q, std_q))
        return 0.99 * energy_share + 0.01 * stats.norm.cdf(values, centre, scale)

    quantile = dist.ppf(q)
    np.testing.assert_allclose(dist.cdf(quantile), q, atol=1e-9)
    np.testing.assert_allclose(cdf(quantile), q, atol=1e-4)


@FAST
@given(gaussian_energies())
def test_proposal_mixture_moments_are_the_mixtures(params):
    dist = with_proposal(params)
    for dim in range(dist.target_dim):
        mean_p, std_p, mean_q, std_q = proposal_mixture_parts(params, dim)
        mean = (1 - PROPOSAL_WEIGHT) * mean_p + PROPOSAL_WEIGHT * mean_q
        var = ((1 - PROPOSAL_WEIGHT) * (std_p**2 + mean_p**2)
               + PROPOSAL_WEIGHT * (std_q**2 + mean_q**2) - mean**2)
        got_mean = dist.mean() if dist.target_dim == 1 else dist.mean()[:, dim]
        got_var = dist.var() if dist.target_dim == 1 else dist.var()[:, dim]
        tolerance = 1e-4 if dist.target_dim == 1 else 0.05
        np.testing.assert_allclose(got_mean, mean, atol=tolerance * np.sqrt(var.max()))
        np.testing.assert_allclose(got_var, var, rtol=2 * tolerance)


@settings(max_examples=10, deadline=None)
@given(gaussian_energies(), st.integers(0, 2**16))
def test_proposal_mixture_samples_follow_the_mixture(params, seed):
    dist = with_proposal(params)
    draws = dist.sample(2000, random_state=seed).reshape(len(dist), 2000, -1)
    for dim in range(dist.target_dim):
        mean_p, std_p, mean_q, std_q = proposal_mixture_parts(params, dim)
        for row in range(len(dist)):
            def cdf(values, parts=(mean_p[row], std_p[row], mean_q[row], std_q[row])):
                return ((1 - PROPOSAL_WEIGHT) * stats.norm.cdf(values, parts[0], parts[1])
                        + PROPOSAL_WEIGHT * stats.norm.cdf(values, parts[2], parts[3]))

            result = stats.kstest(draws[row, :, dim], cdf)
            assert result.pvalue > 1e-4


@pytest.mark.parametrize("target_dim", [1, 2])
def test_proposal_weights_zero_and_one_give_the_energy_and_the_proposal(target_dim):
    rng = np.random.default_rng(3)
    params = (rng.normal(size=(3, target_dim)), np.exp(rng.normal(size=(3, target_dim))),
              rng.normal(scale=5.0, size=3))
    points = points_around(with_proposal(params), 5, seed=0)
    plain = EnergyDistribution(ShiftedProposalEvaluator(*params), n_samples=N_SAMPLES, seed=0)
    np.testing.assert_array_equal(with_proposal(params, weight=0.0).logpdf(points),
                                  plain.logpdf(points))
    mean_p, std_p, mean_q, std_q = zip(*(proposal_mixture_parts(params, d)
                                         for d in range(target_dim)))
    grid = points.reshape(3, 5, target_dim)
    proposal = stats.norm.logpdf(grid, np.stack(mean_q, 1)[:, None],
                                 np.stack(std_q, 1)[:, None]).sum(axis=2)
    np.testing.assert_allclose(with_proposal(params, weight=1.0).logpdf(points), proposal,
                               atol=1e-4)


def test_proposal_mixture_rows_of_a_sub_batch_match_the_whole_batch():
    rng = np.random.default_rng(4)
    params = (rng.normal(size=(5, 1)), np.exp(rng.normal(size=(5, 1))), np.zeros(5))
    dist = with_proposal(params)
    points = points_around(dist, 4, seed=1)
    np.testing.assert_allclose(dist[[3, 1]].logpdf(points[[3, 1]]),
                               dist.logpdf(points)[[3, 1]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dist[[3, 1]].cdf(points[[3, 1]]), dist.cdf(points)[[3, 1]],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_proposal_weight_outside_the_unit_interval_is_refused(weight):
    params = (np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1))
    with pytest.raises(ValueError, match="proposal_weight"):
        with_proposal(params, weight=weight)


# ====================================================================== a fitted model
@pytest.fixture(scope="module", params=[1, 2], ids=["d1", "d2"])
def fitted_dist(request):
    """Distributions of a tiny EnergyRegressor fitted once, with its training data."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 1))
    Y = np.sin(X) * np.ones((1, request.param)) + 0.2 * rng.normal(size=(200, request.param))
    y = Y[:, 0] if request.param == 1 else Y
    model = EnergyRegressor(max_epochs=3, n_noise_samples=32, hidden_size=16,
                            n_inference_samples=512, random_state=0).fit(X, y)
    return model.predict_dist(X[:6]), y


@FAST
@given(st.integers(0, 2**16))
def test_fitted_logpdf_is_finite(fitted_dist, seed):
    dist, _ = fitted_dist
    assert np.all(np.isfinite(dist.logpdf(points_around(dist, 11, seed))))


@FAST
@given(st.integers(0, 2**16))
def test_fitted_cdf_is_in_the_unit_interval_and_non_decreasing(fitted_dist, seed):
    dist, _ = fitted_dist
    cdf = dist.cdf(np.sort(points_around(dist, 13, seed, spread=5.0), axis=1))
    assert np.all((cdf >= 0.0) & (cdf <= 1.0))
    assert np.all(np.diff(cdf, axis=1) >= -1e-12)


@FAST
@given(st.floats(1e-3, 1.0 - 1e-3))
def test_fitted_ppf_inverts_the_cdf_in_1d(fitted_dist, q):
    dist, _ = fitted_dist
    if dist.target_dim > 1:
        pytest.skip("the joint CDF of d > 1 is not the inverse of marginal quantiles")
    np.testing.assert_allclose(dist.cdf(dist.ppf(q)), q, atol=1e-9)


@FAST
@given(st.floats(0.05, 0.45), st.floats(0.5, 0.95))
def test_fitted_intervals_are_nested_and_contain_the_median(fitted_dist, narrow, wide):
    dist, _ = fitted_dist
    low_narrow, high_narrow = dist.interval(narrow)
    low_wide, high_wide = dist.interval(wide)
    median = dist.median()
    assert np.all(low_wide <= low_narrow) and np.all(low_narrow <= median)
    assert np.all(median <= high_narrow) and np.all(high_narrow <= high_wide)


def test_fitted_density_integrates_to_one_beyond_the_normalising_grid_in_1d(fitted_dist):
    dist, _ = fitted_dist
    if dist.target_dim > 1:
        pytest.skip("checked for the fake energies in 2-D")
    # Three times as wide as the span the normaliser integrates over, on a dense
    # even grid (a different rule from the adaptive nodes): mass beyond the
    # normalising span, or missed by the nodes, would show.
    fine = dist._evaluator.fine_grid()
    span = fine.values(np.array([0, fine.size - 1]))
    middle, half_width = (span[0] + span[-1]) / 2, (span[-1] - span[0]) / 2
    grid = np.linspace(middle - 3 * half_width, middle + 3 * half_width, 3 * fine.size)
    density = dist.pdf(np.broadcast_to(grid, (len(dist), grid.size)))
    np.testing.assert_allclose(np.trapezoid(density, grid, axis=1), 1.0, atol=1e-3)


def test_fitted_samples_follow_the_cdf_in_1d(fitted_dist):
    dist, _ = fitted_dist
    if dist.target_dim > 1:
        pytest.skip("the joint CDF of d > 1 is checked for the fake energies")
    draws = dist.sample(10_000, random_state=0)
    for row in range(len(dist)):
        result = stats.kstest(draws[row], lambda v, row=row: dist[row].cdf(v[None])[0])
        assert result.pvalue > 1e-4


@pytest.mark.parametrize("n_samples", [1, 7])
def test_fitted_sample_shapes(fitted_dist, n_samples):
    dist, _ = fitted_dist
    draws = dist.sample(n_samples, random_state=0)
    tail = (dist.target_dim,) if dist.target_dim > 1 else ()
    assert draws.shape == (len(dist), n_samples) + tail
    assert np.all(np.isfinite(draws))


# ====================================================================== many quantiles per row
@pytest.mark.parametrize("background_weight", [0.0, 0.01])
def test_many_quantiles_per_row_match_root_finding_on_the_cdf(background_weight):
    rng = np.random.default_rng(3)
    means, stds = rng.uniform(-3, 3, size=(5, 1)), np.exp(rng.uniform(-1, 0.5, size=(5, 1)))
    dist = EnergyDistribution(GaussianEvaluator(means, stds, np.zeros(5)),
                              background_weight=background_weight)
    levels = np.sort(rng.uniform(1e-6, 1 - 1e-6, size=(5, 200)), axis=1)
    fast = dist._quantiles(levels)
    generic = ConditionalDistribution._quantiles(dist, levels)  # root finding on the CDF
    np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-8 * stds.max())
    np.testing.assert_allclose(dist.cdf(fast), levels, rtol=1e-8, atol=1e-10)
