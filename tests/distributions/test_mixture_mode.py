"""Tests for GaussianMixtureDistribution.mode (fixed-point mode search)."""

import numpy as np
import pytest
from scipy import optimize

from skebm.distributions import GaussianMixtureDistribution


def random_mixture(n_rows, n_components, target_dim, seed):
    rng = np.random.default_rng(seed)
    log_weights = rng.normal(scale=1.5, size=(n_rows, n_components))
    means = rng.uniform(-4.0, 4.0, size=(n_rows, n_components, target_dim))
    stds = np.exp(rng.uniform(-1.5, 0.8, size=(n_rows, n_components, target_dim)))
    return GaussianMixtureDistribution(log_weights, means, stds)


def test_mode_of_a_single_gaussian_is_its_mean():
    dist = random_mixture(5, 1, 2, seed=0)
    np.testing.assert_allclose(dist.mode(), dist.means[:, 0], atol=1e-12)


def test_mode_of_a_symmetric_unimodal_mixture_is_the_centre():
    # Two unit Gaussians 1.5 apart: unimodal (separation < 2 sigma), mode at 0.
    dist = GaussianMixtureDistribution(np.log([[0.5, 0.5]]), [[[-0.75], [0.75]]],
                                       np.ones((1, 2, 1)))
    np.testing.assert_allclose(dist.mode(), [0.0], atol=1e-6)


def test_mode_picks_the_higher_of_two_separated_peaks():
    dist = GaussianMixtureDistribution(
        np.log([[0.3, 0.7], [0.7, 0.3]]),
        [[[-2.0], [3.0]], [[-2.0], [3.0]]],
        np.full((2, 2, 1), 0.5),
    )
    np.testing.assert_allclose(dist.mode(), [3.0, -2.0], atol=1e-6)


@pytest.mark.parametrize("seed", range(2))
def test_mode_in_1d_is_the_maximum_over_a_dense_grid(seed):
    dist = random_mixture(30, 5, 1, seed)
    grid = np.linspace(-12.0, 12.0, 20_001)
    best_on_grid = dist.logpdf(np.broadcast_to(grid, (30, grid.size))).max(axis=1)
    mode_density = dist.logpdf(dist.mode())
    assert np.all(mode_density >= best_on_grid - 1e-9)
    # a grid step of 1.2e-3 misses the peak by at most about step^2 / (8 sigma^2)
    assert np.all(mode_density - best_on_grid < 1e-4)


def test_mode_in_2d_beats_a_local_optimiser_started_from_every_component():
    dist = random_mixture(15, 4, 2, seed=3)
    modes = dist.mode()
    assert modes.shape == (15, 2)
    for row in range(15):
        single = dist[row]

        def negative_log_density(y, single=single):
            return -single.logpdf(y[None])[0]

        best = min(
            optimize.minimize(negative_log_density, start, method="Nelder-Mead",
                              options={"xatol": 1e-9, "fatol": 1e-12}).fun
            for start in single.means[0]
        )
        assert negative_log_density(modes[row]) <= best + 1e-9


def test_mode_ignores_zero_weight_components():
    dist = GaussianMixtureDistribution([[0.0, -np.inf]], [[[1.0], [5.0]]], [[[1.0], [0.01]]])
    np.testing.assert_allclose(dist.mode(), [1.0], atol=1e-9)


def test_mode_of_an_empty_batch_is_empty():
    dist = random_mixture(3, 2, 2, seed=0)[[]]
    assert dist.mode().shape == (0, 2)
