"""Accuracy of the adaptive 1-D quadrature against densities with known integrals."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from skebm._quadrature import FineGrid, adaptive_nodes

GRID = FineGrid(start=-30.0, step=60.0 / 2**15, size=2**15 + 1, core=(12000, 20768))
LOG_Z_TOLERANCE = 1e-3
"""The documented accuracy of log Z (nats); the estimated error budget is 5e-3 / n_nodes
per interval, and the curvature correction makes the actual error far smaller."""


def mixture_log_density(y, weights, means, stds, offset=0.0):
    parts = [np.log(w) + stats.norm.logpdf(y, m, s) for w, m, s in zip(weights, means, stds)]
    return logsumexp(np.stack(parts), axis=0) + offset


def integrate(log_density, proposal, n_rows=1):
    """Adaptive nodes for ``n_rows`` identical rows of one density and proposal."""
    weights, means, stds = (np.tile(np.asarray(p, float), (n_rows, 1)) for p in proposal)

    def evaluate(rows, indices):
        return log_density(GRID.values(indices))

    return adaptive_nodes(GRID, np.log(weights), means, stds, evaluate)


@pytest.mark.parametrize("proposal", [
    ([0.3, 0.7], [-1.0, 2.0], [0.05, 0.4]),  # the density's own components
    ([1.0], [0.5], [2.0]),  # one broad component
    ([1.0], [-1.0], [0.3]),  # covers only the narrow mode
], ids=["exact", "broad", "partial"])
def test_log_normaliser_mean_and_std_of_a_bimodal_mixture(proposal):
    weights, means, stds, offset = [0.3, 0.7], [-1.0, 2.0], [0.05, 0.4], 7.5
    nodes = integrate(lambda y: mixture_log_density(y, weights, means, stds, offset), proposal)
    log_z, mean, std = nodes.summary()
    exact_mean = np.dot(weights, means)
    exact_std = np.sqrt(np.dot(weights, np.square(stds) + np.square(means)) - exact_mean**2)
    assert abs(log_z[0] - offset) < LOG_Z_TOLERANCE
    assert abs(mean[0] - exact_mean) < 1e-3 * exact_std
    assert abs(std[0] / exact_std - 1) < 1e-3


def test_piecewise_linear_log_density_like_a_relu_network():
    # log g has kinks at arbitrary places, like f of a ReLU network.
    kinks = np.array([-3.1, -1.37, -0.2, 0.05, 0.9, 2.71])
    slopes = np.array([4.0, 1.5, 7.0, 0.5, -2.0, -6.5, -1.0])  # before, between, after kinks

    def log_density(y):
        y = np.asarray(y, float)
        value = slopes[0] * (y - kinks[0])
        for kink, change in zip(kinks, np.diff(slopes)):
            value = value + change * np.maximum(y - kink, 0.0)
        return value - 0.01 * y**2

    dense = np.linspace(GRID.start, GRID.values(GRID.size - 1), 2_000_001)
    log_exact = logsumexp(log_density(dense)) + np.log(dense[1] - dense[0])
    nodes = integrate(log_density, ([1.0], [0.0], [1.5]))
    assert abs(nodes.summary()[0][0] - log_exact) < LOG_Z_TOLERANCE


def test_mass_the_proposal_misses_is_counted():
    weights, means, stds = [0.5, 0.5], [0.0, 12.0], [0.2, 1.5]
    nodes = integrate(lambda y: mixture_log_density(y, weights, means, stds), ([1.0], [0.0], [0.3]))
    assert abs(nodes.summary()[0][0]) < LOG_Z_TOLERANCE


def test_cdf_and_ppf_are_exact_inverses_and_match_the_density():
    weights, means, stds = [0.4, 0.6], [-2.0, 1.0], [0.1, 0.7]
    nodes = integrate(lambda y: mixture_log_density(y, weights, means, stds),
                      (weights, means, stds))
    q = np.linspace(0.001, 0.999, 199)[None]
    quantiles = nodes.ppf(q)
    np.testing.assert_allclose(nodes.cdf(quantiles), q, atol=1e-9)
    exact = sum(w * stats.norm.cdf(quantiles, m, s) for w, m, s in zip(weights, means, stds))
    np.testing.assert_allclose(exact, q, atol=1e-4)


def test_rows_are_integrated_independently_of_each_other():
    def log_density(row, y):
        return stats.norm.logpdf(y, [0.0, -1.0][row], [0.5, 0.8][row])

    weights = np.array([[1.0, 1e-9], [0.5, 0.5]])
    means = np.array([[0.0, 0.0], [-4.0, 3.0]])
    stds = np.array([[0.5, 0.5], [0.05, 2.0]])

    def evaluate(rows_, indices):
        return np.array([log_density(r, GRID.values(i)) for r, i in zip(rows_, indices)])

    both = adaptive_nodes(GRID, np.log(weights), means, stds, evaluate).summary()
    for row in range(2):
        alone = adaptive_nodes(GRID, np.log(weights[[row]]), means[[row]], stds[[row]],
                               lambda r, i, row=row: evaluate(np.full(len(r), row), i)).summary()
        for part_both, part_alone in zip(both, alone):
            assert part_both[row] == pytest.approx(part_alone[0], rel=1e-12, abs=1e-12)
