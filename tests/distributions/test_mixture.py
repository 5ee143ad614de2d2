"""Tests for the closed-form Gaussian mixture batch distribution."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from skebm.distributions import ConditionalDistribution, GaussianMixtureDistribution

FAST = settings(max_examples=30, deadline=None)


@st.composite
def mixture_parameters(draw, target_dims=(1, 2, 3)):
    """Raw (unnormalised) log weights, means and stds of a small random batch."""
    n_rows = draw(st.integers(1, 4))
    n_components = draw(st.integers(1, 5))
    target_dim = draw(st.sampled_from(target_dims))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    log_weights = rng.normal(scale=1.5, size=(n_rows, n_components)) + 3.0
    means = rng.uniform(-5.0, 5.0, size=(n_rows, n_components, target_dim))
    stds = np.exp(rng.uniform(-1.5, 1.0, size=(n_rows, n_components, target_dim)))
    return log_weights, means, stds


def weights_of(log_weights):
    weights = np.exp(log_weights - log_weights.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def reference_logpdf(log_weights, means, stds, points):
    """log sum_k pi_k prod_j N(y_j; mu_kj, sigma_kj) with scipy.stats.norm; points (n, k, d)."""
    per_component = stats.norm.logpdf(points[:, :, None, :], means[:, None], stds[:, None])
    log_terms = np.log(weights_of(log_weights))[:, None, :] + per_component.sum(axis=3)
    return special.logsumexp(log_terms, axis=2)


def points_near(means, stds, n_points, seed):
    """(n, n_points, d) points spread over the mixture's bulk and tails."""
    rng = np.random.default_rng(seed)
    n_rows, n_components, _ = means.shape
    component = rng.integers(n_components, size=(n_rows, n_points))
    centre = np.take_along_axis(means, component[:, :, None], axis=1)
    scale = np.take_along_axis(stds, component[:, :, None], axis=1)
    return centre + 4.0 * scale * rng.standard_normal(centre.shape)


def marginal(log_weights, means, stds, dim):
    return GaussianMixtureDistribution(log_weights, means[:, :, [dim]], stds[:, :, [dim]])


def fixed_mixture(target_dim, n_rows=6, n_components=3, seed=0):
    rng = np.random.default_rng(seed)
    log_weights = rng.normal(size=(n_rows, n_components))
    means = rng.uniform(-3.0, 3.0, size=(n_rows, n_components, target_dim))
    stds = np.exp(rng.uniform(-1.0, 0.5, size=(n_rows, n_components, target_dim)))
    return GaussianMixtureDistribution(log_weights, means, stds)


# ------------------------------------------------------------------ density
@FAST
@given(mixture_parameters())
def test_logpdf_matches_scipy_norm_reference(params):
    dist = GaussianMixtureDistribution(*params)
    points = points_near(params[1], params[2], n_points=7, seed=0)
    expected = reference_logpdf(*params, points)
    np.testing.assert_allclose(dist.logpdf(points), expected, rtol=1e-10, atol=1e-10)


@FAST
@given(mixture_parameters(target_dims=(1,)))
def test_pdf_integrates_to_one_in_1d(params):
    _, means, stds = params
    dist = GaussianMixtureDistribution(*params)
    grid = np.linspace((means - 12 * stds).min(), (means + 12 * stds).max(), 20001)
    density = dist.pdf(np.broadcast_to(grid, (len(dist), grid.size)))
    np.testing.assert_allclose(integrate.trapezoid(density, grid, axis=1), 1.0, atol=1e-6)


def test_logpdf_is_finite_far_in_the_tails():
    dist = GaussianMixtureDistribution(
        np.log([[0.3, 0.7]]), np.array([[[0.0], [1.0]]]), np.array([[[1.0], [0.5]]])
    )
    far = np.array([[-1e3, -60.0, 80.0, 1e4]])
    log_density = dist.logpdf(far)
    assert np.all(np.isfinite(log_density))
    # Far in the tails the widest component dominates: log(0.3) + log N(y; 0, 1).
    np.testing.assert_allclose(log_density, np.log(0.3) + stats.norm.logpdf(far), rtol=1e-12)


# ---------------------------------------------------------------------- cdf
@FAST
@given(mixture_parameters(target_dims=(1,)))
def test_cdf_matches_numerical_integral_of_pdf_in_1d(params):
    _, means, stds = params
    dist = GaussianMixtureDistribution(*params)
    grid = np.linspace((means - 12 * stds).min(), (means + 12 * stds).max(), 20001)
    points = np.broadcast_to(grid, (len(dist), grid.size))
    integral = integrate.cumulative_simpson(dist.pdf(points), x=grid, axis=1, initial=0.0)
    np.testing.assert_allclose(dist.cdf(points), integral, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(mixture_parameters(target_dims=(2, 3)))
def test_joint_cdf_matches_scipy_multivariate_normal(params):
    log_weights, means, stds = params
    dist = GaussianMixtureDistribution(*params)
    points = points_near(means, stds, n_points=2, seed=1)
    expected = np.zeros(points.shape[:2])
    weights = weights_of(log_weights)
    for row, point in np.ndindex(*points.shape[:2]):
        for component in range(means.shape[1]):
            gaussian = stats.multivariate_normal(
                means[row, component], np.diag(stds[row, component] ** 2), seed=0
            )
            expected[row, point] += weights[row, component] * gaussian.cdf(points[row, point])
    np.testing.assert_allclose(dist.cdf(points), expected, atol=1e-5)


@FAST
@given(mixture_parameters())
def test_cdf_is_in_unit_interval_and_non_decreasing(params):
    dist = GaussianMixtureDistribution(*params)
    d = params[1].shape[2]
    steps = np.linspace(-30.0, 30.0, 401)[:, None] * np.ones(d)  # (k, d), increasing
    for dim in range(d):
        along_axis = np.zeros((steps.shape[0], d))
        along_axis[:, dim] = steps[:, dim]
        for path in (steps, along_axis):
            values = dist.cdf(np.broadcast_to(path, (len(dist), *path.shape)))
            assert np.all((values >= 0.0) & (values <= 1.0))
            assert np.all(np.diff(values, axis=1) >= -1e-15)


def test_cdf_is_accurate_far_in_the_lower_tail():
    dist = GaussianMixtureDistribution([[0.0]], [[[0.0]]], [[[1.0]]])
    y = np.array([[-30.0, -10.0, -3.0]])
    np.testing.assert_allclose(dist.cdf(y), stats.norm.cdf(y), rtol=1e-12)


# ---------------------------------------------------------------------- ppf
@FAST
@given(mixture_parameters(), st.floats(1e-9, 1.0 - 1e-9))
def test_ppf_inverts_each_marginal_cdf(params, q):
    log_weights, means, stds = params
    dist = GaussianMixtureDistribution(*params)
    quantiles = dist.ppf(q).reshape(len(dist), -1)
    for dim in range(quantiles.shape[1]):
        if q <= 0.5:
            tail = marginal(*params, dim).cdf(quantiles[:, dim])
        else:  # P(Y > x) = P(-Y < -x): the upper tail without cancellation
            tail = marginal(log_weights, -means, stds, dim).cdf(-quantiles[:, dim])
        expected = min(q, 1.0 - q)
        assert np.all(np.abs(tail - expected) <= 1e-9 * expected)


@FAST
@given(mixture_parameters(target_dims=(1,)), st.integers(0, 2**16))
def test_ppf_of_cdf_recovers_the_point(params, seed):
    dist = GaussianMixtureDistribution(*params)
    y = points_near(params[1], params[2], n_points=1, seed=seed)[:, 0, 0]
    probabilities = dist.cdf(y)
    keep = (probabilities > 1e-8) & (probabilities < 1 - 1e-8)
    recovered = dist[keep].ppf(probabilities[keep]) if keep.any() else y[keep]
    tolerance = 1e-12 / dist.pdf(y)[keep] + 1e-9 * (1.0 + np.abs(y[keep]))
    assert np.all(np.abs(recovered - y[keep]) <= tolerance)


def test_ppf_of_a_single_gaussian_matches_scipy():
    dist = GaussianMixtureDistribution(
        np.zeros((3, 1)), [[[1.0]], [[-2.0]], [[0.0]]], np.ones((3, 1, 1)) * 2.0
    )
    q = np.array([1e-12, 0.3, 1 - 1e-12])
    np.testing.assert_allclose(dist.ppf(q), stats.norm.ppf(q, [1.0, -2.0, 0.0], 2.0), rtol=1e-12)


def test_ppf_is_symmetric_in_both_tails():
    rng = np.random.default_rng(3)
    log_weights, means, stds = (
        rng.normal(size=(5, 4)),
        rng.normal(size=(5, 4, 1)),
        np.ones((5, 4, 1)),
    )
    dist = GaussianMixtureDistribution(log_weights, means, stds)
    mirrored = GaussianMixtureDistribution(log_weights, -means, stds)
    for q in (2.0**-45, 2.0**-20, 0.2):  # 1 - q is exact, so the mirror is exact
        np.testing.assert_allclose(dist.ppf(1.0 - q), -mirrored.ppf(q), rtol=1e-9)


def test_ppf_solves_a_large_batch():
    rng = np.random.default_rng(0)
    n_rows, n_components = 10_000, 8
    log_weights = rng.normal(size=(n_rows, n_components))
    means = rng.normal(scale=3.0, size=(n_rows, n_components, 1))
    stds = np.exp(rng.normal(size=(n_rows, n_components, 1)))
    dist = GaussianMixtureDistribution(log_weights, means, stds)
    q = rng.uniform(0.001, 0.999, size=n_rows)
    np.testing.assert_allclose(dist.cdf(dist.ppf(q)), q, rtol=1e-9)


# ------------------------------------------------------------------ moments
@FAST
@given(mixture_parameters())
def test_moments_match_scipy_component_moments(params):
    log_weights, means, stds = params
    dist = GaussianMixtureDistribution(*params)
    weights = weights_of(log_weights)[:, :, None]
    components = stats.norm(means, stds)
    mean = np.sum(weights * components.mean(), axis=1)
    second_moment = np.sum(weights * components.moment(2), axis=1)
    shape = (len(dist),) if means.shape[2] == 1 else (len(dist), means.shape[2])
    np.testing.assert_allclose(dist.mean(), mean.reshape(shape), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dist.var(), (second_moment - mean**2).reshape(shape), rtol=1e-8)
    np.testing.assert_allclose(dist.std(), np.sqrt(dist.var()))


@pytest.mark.parametrize("target_dim", [1, 2, 3])
def test_sample_moments_match_closed_form_moments(target_dim):
    dist = fixed_mixture(target_dim)
    n_samples = 20_000
    draws = dist.sample(n_samples, random_state=0).reshape(len(dist), n_samples, target_dim)
    mean = dist.mean().reshape(len(dist), target_dim)
    var = dist.var().reshape(len(dist), target_dim)
    mean_error = np.abs(draws.mean(axis=1) - mean)
    assert np.all(mean_error <= 5.0 * np.sqrt(var / n_samples))
    squared = (draws - mean[:, None]) ** 2
    var_error = np.abs(squared.mean(axis=1) - var)
    assert np.all(var_error <= 5.0 * squared.std(axis=1) / np.sqrt(n_samples))


# ---------------------------------------------------------------- intervals
@pytest.mark.parametrize("target_dim", [1, 2])
@pytest.mark.parametrize("confidence", [0.5, 0.9])
def test_interval_coverage_by_sampling_matches_confidence(target_dim, confidence):
    dist = fixed_mixture(target_dim, n_rows=20)
    n_samples = 2_000
    lower, upper = dist.interval(confidence)
    draws = dist.sample(n_samples, random_state=1).reshape(len(dist), n_samples, target_dim)
    lower, upper = lower.reshape(len(dist), 1, -1), upper.reshape(len(dist), 1, -1)
    inside = (draws >= lower) & (draws <= upper)
    n_draws = inside[..., 0].size
    for dim in range(target_dim):
        coverage = inside[..., dim].mean()
        assert abs(coverage - confidence) <= 4.0 * np.sqrt(confidence * (1 - confidence) / n_draws)


@FAST
@given(mixture_parameters())
def test_intervals_are_nested_and_contain_the_median(params):
    dist = GaussianMixtureDistribution(*params)
    inner_lower, inner_upper = dist.interval(0.5)
    outer_lower, outer_upper = dist.interval(0.9)
    median = dist.median()
    assert np.all(outer_lower <= inner_lower) and np.all(inner_upper <= outer_upper)
    assert np.all((inner_lower <= median) & (median <= inner_upper))


# ----------------------------------------------------------------- sampling
@pytest.mark.parametrize("target_dim", [1, 3])
def test_sample_shapes(target_dim):
    dist = fixed_mixture(target_dim, n_rows=4)
    trailing = () if target_dim == 1 else (target_dim,)
    assert dist.sample(random_state=0).shape == (4, 1, *trailing)
    assert dist.sample(7, random_state=0).shape == (4, 7, *trailing)


def test_sampling_is_reproducible_with_a_seed():
    dist = fixed_mixture(2)
    np.testing.assert_array_equal(dist.sample(5, random_state=3), dist.sample(5, random_state=3))
    generator = np.random.default_rng(0)
    assert not np.array_equal(dist.sample(5, generator), dist.sample(5, generator))


def test_zero_weight_components_are_never_sampled():
    log_weights = np.array([[0.0, -np.inf, -np.inf], [-np.inf, -np.inf, 0.0]])
    means = np.array([[[0.0], [100.0], [200.0]], [[-100.0], [-200.0], [0.0]]])
    dist = GaussianMixtureDistribution(log_weights, means, np.ones((2, 3, 1)))
    assert np.all(np.abs(dist.sample(2_000, random_state=0)) < 10.0)
    np.testing.assert_allclose(dist.ppf(0.5), [0.0, 0.0], atol=1e-12)


# ----------------------------------------------------------------- indexing
@pytest.mark.parametrize(
    "index", [slice(2, 5), np.array([True, False, True, True, False, False]), 3, -1, [5, 0]]
)
def test_indexing_returns_the_matching_sub_batch(index):
    dist = fixed_mixture(2)
    rows = np.atleast_1d(np.arange(len(dist))[index])
    subset = dist[index]
    assert isinstance(subset, GaussianMixtureDistribution) and len(subset) == rows.size
    np.testing.assert_array_equal(subset.means, dist.means[rows])
    # The sub-batch renormalises its log weights and exponentiates a smaller
    # array; NumPy's SIMD exp may then round differently in the last bit.
    np.testing.assert_allclose(subset.weights, dist.weights[rows], rtol=1e-14, atol=0)
    np.testing.assert_allclose(subset.mean(), dist.mean()[rows], rtol=1e-14, atol=1e-15)
    y = dist.mean()
    np.testing.assert_allclose(subset.logpdf(y[rows]), dist.logpdf(y)[rows], rtol=1e-14)


def test_empty_selection_is_an_empty_batch():
    subset = fixed_mixture(1)[np.zeros(6, dtype=bool)]
    assert len(subset) == 0 and subset.mean().shape == (0,) and subset.ppf(0.5).shape == (0,)


# ---------------------------------------------------------------- shapes
def test_logpdf_many_points_per_row_in_1d():
    dist = fixed_mixture(1, n_rows=4)
    grid = np.linspace(-5, 5, 11)
    many = dist.logpdf(np.broadcast_to(grid, (4, 11)))
    assert many.shape == (4, 11)
    np.testing.assert_allclose(many[:, 3], dist.logpdf(np.full(4, grid[3])))
    assert dist.logpdf(np.zeros((4, 11, 1))).shape == (4, 11)


def test_logpdf_many_points_per_row_in_2d():
    dist = fixed_mixture(2, n_rows=4)
    points = np.random.default_rng(0).normal(size=(4, 9, 2))
    many = dist.logpdf(points)
    assert many.shape == (4, 9) and dist.cdf(points).shape == (4, 9)
    np.testing.assert_allclose(many[:, 5], dist.logpdf(points[:, 5]))
    assert dist.mean().shape == (4, 2) and dist.ppf(0.3).shape == (4, 2)


def test_properties_are_normalised_and_read_only():
    log_weights = np.array([[1.0, 2.0, 3.0]])
    dist = GaussianMixtureDistribution(log_weights, np.zeros((1, 3, 1)), np.ones((1, 3, 1)))
    np.testing.assert_allclose(dist.weights, special.softmax(log_weights, axis=1))
    assert isinstance(dist, ConditionalDistribution) and dist.n_components == 3
    for array in (dist.weights, dist.log_weights, dist.means, dist.stds):
        with pytest.raises(ValueError):
            array[0] = 1.0


# ------------------------------------------------------------- bad inputs
def valid_parameters():
    return np.zeros((2, 3)), np.zeros((2, 3, 1)), np.ones((2, 3, 1))


@pytest.mark.parametrize(
    "change",
    [
        {"log_weights": np.zeros(3)},
        {"means": np.zeros((2, 3))},
        {"stds": np.ones((2, 3, 2))},
        {"means": np.zeros((2, 4, 1)), "stds": np.ones((2, 4, 1))},
        {"means": np.full((2, 3, 1), np.nan)},
        {"stds": np.zeros((2, 3, 1))},
        {"stds": -np.ones((2, 3, 1))},
        {"stds": np.full((2, 3, 1), np.inf)},
        {"log_weights": np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]])},
        {"log_weights": np.array([[0.0, np.inf, 0.0], [0.0, 0.0, 0.0]])},
        {"log_weights": np.array([[-np.inf] * 3, [0.0, 0.0, 0.0]])},
        {"log_weights": np.zeros((2, 0)), "means": np.zeros((2, 0, 1)), "stds": np.ones((2, 0, 1))},
    ],
)
def test_invalid_parameters_raise_value_error(change):
    params = dict(zip(["log_weights", "means", "stds"], valid_parameters(), strict=True))
    params.update(change)
    with pytest.raises(ValueError):
        GaussianMixtureDistribution(**params)


def test_non_numeric_parameters_raise_type_error():
    log_weights, means, stds = valid_parameters()
    with pytest.raises(TypeError):
        GaussianMixtureDistribution(log_weights, means.astype(str), stds)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, np.nan, [0.5, 0.5, 0.5]])
def test_ppf_rejects_bad_probabilities(q):
    with pytest.raises(ValueError):
        fixed_mixture(1, n_rows=2).ppf(q)


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 2.0, 1 - 1e-16])
def test_interval_rejects_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        fixed_mixture(1, n_rows=2).interval(confidence)


def test_interval_at_the_largest_representable_confidence_is_finite():
    lower, upper = fixed_mixture(1, n_rows=2).interval(1 - 2.3e-16)
    assert np.all(np.isfinite(lower)) and np.all(lower < upper)


@pytest.mark.parametrize(
    ("target_dim", "y"),
    [
        (1, np.zeros(3)),
        (1, np.zeros((2, 4, 2))),
        (2, np.zeros(2)),
        (2, np.zeros((2, 3))),
        (1, np.array([0.0, np.nan])),
        (2, np.full((2, 2), np.nan)),
    ],
)
def test_logpdf_and_cdf_reject_bad_points(target_dim, y):
    dist = fixed_mixture(target_dim, n_rows=2)
    for method in (dist.logpdf, dist.cdf):
        with pytest.raises(ValueError):
            method(y)


def test_non_numeric_points_raise_type_error():
    with pytest.raises(TypeError):
        fixed_mixture(1, n_rows=2).logpdf(np.array(["a", "b"]))


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True])
def test_sample_rejects_non_positive_or_non_integer_counts(n_samples):
    with pytest.raises(ValueError):
        fixed_mixture(1, n_rows=2).sample(n_samples)


# ---------------------------------------------------------------- awkward selections
@pytest.mark.parametrize("target_dim", [1, 2])
def test_an_empty_selection_is_an_empty_batch_whose_methods_return_empty_arrays(target_dim):
    empty = fixed_mixture(target_dim)[np.zeros(6, dtype=bool)]
    trailing = () if target_dim == 1 else (target_dim,)
    assert len(empty) == 0
    for values in (empty.mean(), empty.var(), empty.std(), empty.mode(), empty.median(),
                   empty.ppf(0.3), *empty.interval(0.9)):
        assert values.shape == (0, *trailing)
    assert empty.sample(3, random_state=0).shape == (0, 3, *trailing)
    assert empty.logpdf(np.zeros((0, *trailing))).shape == (0,)
    assert empty.cdf(np.zeros((0, 4, *trailing))).shape == (0, 4)


def test_indexing_with_none_raises_a_clear_index_error():
    with pytest.raises(IndexError, match="indexed along its rows only"):
        fixed_mixture(1)[None]


def test_std_stays_finite_where_the_variance_overflows():
    dist = GaussianMixtureDistribution(np.log([[0.5, 0.5]]), np.array([[[-1e160], [1e160]]]),
                                       np.full((1, 2, 1), 3e155))
    np.testing.assert_allclose(dist.std(), [np.hypot(1e160, 3e155)], rtol=1e-12)
    assert dist.var()[0] == np.inf  # honestly beyond float64


def test_a_log_density_that_is_not_a_number_raises_instead_of_being_returned(monkeypatch):
    from skebm.exceptions import NonFiniteOutputError

    dist = fixed_mixture(1, n_rows=3)
    monkeypatch.setattr(dist, "_logpdf_points", lambda points: np.full(points.shape[:2], np.inf))
    with pytest.raises(NonFiniteOutputError, match="NaN or \\+inf at 3 of 3"):
        dist.logpdf(np.zeros(3))
