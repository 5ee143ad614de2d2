"""CRPS and energy-score formulas behind :func:`skebm.metrics.crps`."""

from __future__ import annotations

import importlib.util

import numpy as np
import properscoring
from scipy.spatial.distance import pdist
from scipy.special import ndtr

__all__ = ["ensemble_crps", "energy_score", "gaussian_mixture_crps"]

# properscoring.crps_ensemble is fast only with numba (otherwise O(S^2) memory).
HAS_NUMBA = importlib.util.find_spec("numba") is not None


def gaussian_mixture_crps(
    y_true: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    """Exact CRPS per row of 1-D Gaussian mixtures ``(n, K)`` at targets ``(n,)``.

    ``CRPS = sum_k w_k A(y - mu_k, s_k^2) - 1/2 sum_jk w_j w_k A(mu_j - mu_k, s_j^2 + s_k^2)``
    with ``A(m, v) = E|Z|`` for ``Z ~ N(m, v)`` (Grimit et al., 2006).
    """
    to_target = _mean_absolute_normal(y_true[:, None] - means, stds**2)  # (n, K)
    between = _mean_absolute_normal(
        means[:, :, None] - means[:, None, :], stds[:, :, None] ** 2 + stds[:, None, :] ** 2
    )  # (n, K, K)
    pair_weights = weights[:, :, None] * weights[:, None, :]
    return np.sum(weights * to_target, axis=1) - 0.5 * np.sum(pair_weights * between, axis=(1, 2))


def _mean_absolute_normal(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """``E|Z|`` for ``Z ~ N(mean, variance)``: ``2 s phi(m / s) + m (2 Phi(m / s) - 1)``."""
    std = np.sqrt(variance)
    z = mean / std
    density = np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
    return 2.0 * std * density + mean * (2.0 * ndtr(z) - 1.0)


def ensemble_crps(y_true: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """CRPS per row of the empirical distribution of draws ``(n, S)`` at targets ``(n,)``."""
    if HAS_NUMBA:
        return properscoring.crps_ensemble(y_true, draws, axis=-1)
    return _sorted_ensemble_crps(y_true, draws)


def _sorted_ensemble_crps(y_true: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``E|X - y| - 1/2 E|X - X'|`` over the draws, with the pair term from sorted draws.

    For sorted draws x_(1) <= ... <= x_(S), the sum over all ordered pairs
    ``sum_ij |x_i - x_j|`` equals ``2 sum_i (2i - S - 1) x_(i)``.
    """
    n_draws = draws.shape[1]
    ordered = np.sort(draws, axis=1)
    to_target = np.abs(draws - y_true[:, None]).mean(axis=1)
    rank_weights = 2.0 * np.arange(1, n_draws + 1) - n_draws - 1.0
    between_draws = 2.0 * (ordered @ rank_weights) / n_draws**2
    return to_target - 0.5 * between_draws


def energy_score(y_true: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Energy score per row for targets ``(n, d)`` and draws ``(n, S, d)``."""
    n_draws = draws.shape[1]
    to_target = np.linalg.norm(draws - y_true[:, None, :], axis=-1).mean(axis=1)
    # pdist lists each unordered pair once; the mean over all S^2 ordered pairs
    # (diagonal included) is twice the sum divided by S^2.
    between_draws = np.array([2.0 * pdist(row).sum() / n_draws**2 for row in draws])
    return to_target - 0.5 * between_draws
