"""The broad Gaussian background mixed into every predicted distribution (a defensive mixture).

A flexible model fitted to few rows can put a test point many predicted
standard deviations out, where its density is astronomically small and one
row dominates the mean log-likelihood. Mixing in a small weight ``ε`` of the
training targets' own marginal, ``p̃ = (1 - ε) p + ε N(ȳ, diag(s_y²))``, bounds
that loss by about ``-log ε`` plus the point's log-density under the marginal,
and costs at most ``-log(1 - ε) ≈ ε`` nats anywhere else (Hesterberg's
defensive mixture, 1995, used here for the predictive density itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, log_softmax, ndtr, ndtri

__all__ = ["Background"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Background:
    """The component ``ε N(mean, diag(scale²))`` of a defensive mixture.

    Attributes
    ----------
    weight : float
        Its weight ``ε`` in ``[0, 1)``; 0 switches it off.
    mean, scale : ndarray of shape (d,)
        Mean and standard deviation of every target dimension.
    """

    weight: float
    mean: np.ndarray
    scale: np.ndarray

    @property
    def active(self) -> bool:
        """Whether the background has any weight."""
        return self.weight > 0.0

    def mix_log_density(self, log_density: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``log((1 - ε) p + ε b)`` from ``log p`` ``(n, k)`` at points ``(n, k, d)``."""
        if not self.active:
            return log_density
        return np.logaddexp(math.log1p(-self.weight) + log_density,
                            math.log(self.weight) + self.log_density(points))

    def mix_cdf(self, cdf: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``(1 - ε) F + ε B`` from the joint CDF ``F`` ``(n, k)`` at points ``(n, k, d)``."""
        if not self.active:
            return cdf
        return (1.0 - self.weight) * cdf + self.weight * self.cdf(points)

    def mix_moments(self, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and marginal standard deviation of the mixture from the other component's.

        By the law of total variance, in units of ``scale`` so that huge
        targets do not overflow the squares.
        """
        if not self.active:
            return mean, std
        weight = self.weight
        shift = (mean - self.mean) / self.scale
        relative = ((1.0 - weight) * np.square(std / self.scale) + weight
                    + weight * (1.0 - weight) * np.square(shift))
        return (1.0 - weight) * mean + weight * self.mean, np.sqrt(relative) * self.scale

    def append_to(self, log_weights: np.ndarray, means: np.ndarray,
                  stds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A Gaussian mixture ``(n, K)``, ``(n, K, d)``, ``(n, K, d)`` with the background appended.

        The mixture's weights are renormalised and scaled by ``1 - ε``; the
        background becomes component ``K`` with weight ``ε``, the same in every row.
        """
        if not self.active:
            return log_weights, means, stds
        n_rows = len(log_weights)
        log_weights = np.concatenate([
            log_softmax(log_weights, axis=1) + math.log1p(-self.weight),
            np.full((n_rows, 1), math.log(self.weight))], axis=1)
        means = np.concatenate([means, np.broadcast_to(self.mean, (n_rows, 1, len(self.mean)))],
                               axis=1)
        stds = np.concatenate([stds, np.broadcast_to(self.scale, (n_rows, 1, len(self.scale)))],
                              axis=1)
        return log_weights, means, stds

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """Log density of the (unweighted) Gaussian at points ``(n, k, d)``, ``(n, k)``."""
        z = (points - self.mean) / self.scale
        with np.errstate(over="ignore"):  # far-away points: log density -inf, as it should
            squares = np.sum(np.square(z), axis=-1)
        return -0.5 * squares - np.sum(np.log(self.scale)) - points.shape[-1] * _LOG_SQRT_2PI

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Joint CDF of the Gaussian at points ``(n, k, d)``, ``(n, k)``."""
        return np.exp(np.sum(log_ndtr((points - self.mean) / self.scale), axis=-1))

    def marginal_cdf(self, values: np.ndarray, dim: int) -> np.ndarray:
        """CDF of target dimension ``dim`` at ``values`` (any shape)."""
        return ndtr((values - self.mean[dim]) / self.scale[dim])

    def marginal_ppf(self, probabilities: np.ndarray, dim: int) -> np.ndarray:
        """Quantiles of target dimension ``dim`` at ``probabilities`` (any shape)."""
        return self.mean[dim] + self.scale[dim] * ndtri(probabilities)

    def draws(self, uniforms: np.ndarray) -> np.ndarray:
        """Draws of the Gaussian from independent uniforms ``(..., d)``, by inversion."""
        return self.mean + self.scale * ndtri(uniforms)
