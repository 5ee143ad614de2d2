"""The backend of EnergyDistribution for d > 1 targets: importance sampling and MCMC."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, softmax

from skebm._chunking import rows_per_point_chunk
from skebm.distributions._background import Background
from skebm.distributions._base import row_uniforms
from skebm.distributions._chains import CHAIN_STEPS, independence_chains
from skebm.distributions.energy import EnergyDistribution, search_unit_rows

__all__ = ["SampledEnergyDistribution"]

_BELOW_ONE = float(np.nextafter(1.0, 0.0))
_BACKGROUND_STREAM = 0x5BD1E995
"""Mixed into the sampling seed for the background's own random numbers."""
_CHAIN_STREAM = 0x2545F491
"""Mixed into the sampling seed for the Metropolis-Hastings chains' random numbers."""


class SampledEnergyDistribution(EnergyDistribution):
    """:class:`EnergyDistribution` of d > 1 targets.

    The normaliser, moments, joint CDF and marginal quantiles are
    self-normalised importance-sampling estimates from ``n_samples``
    quasi-random proposal draws per row; :meth:`sample` runs independence
    Metropolis-Hastings chains (``skebm.distributions._chains``). Built by
    ``EnergyDistribution(evaluator, ...)``; same parameters.
    """

    def _chunk_size(self) -> int:
        return rows_per_point_chunk(self.n_samples)

    def _weighted_draws(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Proposal draws ``(r, m, d)`` and their log importance weights ``(r, m)``.

        The weights are ``f - log q``; with a proposal weight ``a``, those of
        the mixture, ``log((1 - a) exp(f - log q) / Z + a)``, with ``Z``
        estimated from the same draws (so that the weights average to 1).
        """
        points, log_weights = self._energy_draws(rows)
        weight = self.proposal_weight
        if not weight:
            return points, log_weights
        log_z = logsumexp(log_weights, axis=1, keepdims=True) - math.log(self.n_samples)
        with np.errstate(divide="ignore"):  # weight 1: the energy's share is exp(-inf) = 0
            return points, np.logaddexp(np.log1p(-weight) + log_weights - log_z,
                                        math.log(weight))

    def _energy_draws(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Proposal draws ``(r, m, d)`` and the log importance weights f - log q of exp f."""
        points, log_q = self._evaluator.proposal_draws(rows, self.n_samples, self.seed)
        return points, self._evaluator.log_unnormalized(rows, points) - log_q

    def _chunk_summary(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        points, log_weights = self._weighted_draws(rows)
        log_z = logsumexp(log_weights, axis=1)
        weights = np.exp(log_weights - log_z[:, None])  # (r, m)
        mean = np.einsum("rm,rmd->rd", weights, points)
        # Centred and scaled, so that huge targets do not overflow the square.
        scale = self._evaluator.target_scale
        centred = (points - mean[:, None, :]) / scale
        std = np.sqrt(np.einsum("rm,rmd->rd", weights, np.square(centred))) * scale
        return log_z - math.log(self.n_samples), mean, std

    def _chunk_energy_log_normalizer(self, rows: np.ndarray) -> np.ndarray:
        log_weights = self._energy_draws(rows)[1]
        return logsumexp(log_weights, axis=1) - math.log(self.n_samples)

    def _chunk_cdf(self, rows: np.ndarray, points: np.ndarray) -> np.ndarray:
        draws, log_weights = self._weighted_draws(rows)
        weights = softmax(log_weights, axis=1)
        below = np.all(draws[:, None, :, :] <= points[:, :, None, :], axis=-1)
        return np.einsum("rkm,rm->rk", below, weights)

    def _chunk_ppf(self, rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        draws, log_weights = self._weighted_draws(rows)
        return _weighted_quantiles(draws, softmax(log_weights, axis=1), probabilities,
                                   self._background)

    def _chunk_sample(self, rows: np.ndarray, uniforms: np.ndarray, seed: int) -> np.ndarray:
        # The chains' own streams; the selecting uniforms only decide the background.
        n_chains = uniforms.shape[1]
        out = np.empty((len(rows), n_chains, self.target_dim))
        size = rows_per_point_chunk(n_chains)
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]

            def log_target(points: np.ndarray, chunk: np.ndarray = chunk) -> np.ndarray:
                return self._log_density(chunk, points)

            out[start : start + size] = independence_chains(
                log_target, self._evaluator.proposal_components(chunk), seed ^ _CHAIN_STREAM,
                chunk, n_chains, CHAIN_STEPS)
        return out

    def _background_uniforms(self, seed: int, rows: np.ndarray,
                             uniforms: np.ndarray) -> np.ndarray:
        n_samples = uniforms.shape[1]
        return row_uniforms(seed ^ _BACKGROUND_STREAM, rows, n_samples * self.target_dim
                            ).reshape(len(rows), n_samples, self.target_dim)

    def _mode_starts(self, rows: np.ndarray) -> np.ndarray:
        points, _ = self._evaluator.proposal_draws(rows, self.n_samples, self.seed)
        best = np.argmax(self._log_density(rows, points), axis=1)
        return points[np.arange(len(rows)), best]


def _weighted_quantiles(draws: np.ndarray, weights: np.ndarray, probabilities: np.ndarray,
                        background: Background) -> np.ndarray:
    """Per-dimension quantiles ``(r, d)`` of weighted draws ``(r, m, d)`` mixed with a background.

    The marginal CDF ``G(y) = (1 - ε) C(y) + ε B(y)`` has ``C`` a step function
    of the draws, so between two sorted draws ``G = p`` is solved in closed form
    by the background's quantile; a root at a draw is where ``G`` jumps over p.
    Without background the quantile is the first draw with ``C >= p``.
    """
    weight = background.weight
    out = np.empty((draws.shape[0], draws.shape[2]))
    rows = np.arange(len(draws))
    for dim in range(draws.shape[2]):
        order = np.argsort(draws[:, :, dim], axis=1)
        values = np.take_along_axis(draws[:, :, dim], order, axis=1)
        cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
        if not background.active:
            picks = search_unit_rows(cumulative, probabilities[:, None])[:, 0]
            out[:, dim] = values[rows, picks]
            continue
        mixed = (1.0 - weight) * cumulative + weight * background.marginal_cdf(values, dim)
        reached = mixed >= probabilities[:, None]
        first = np.argmax(reached, axis=1)  # G at the first draw at or above p ...
        first = np.where(reached.any(axis=1), first, values.shape[1])  # ... or past the last
        below = np.where(first > 0, cumulative[rows, np.maximum(first - 1, 0)], 0.0)
        share = (probabilities - (1.0 - weight) * below) / weight  # B(y) where G(y) = p
        with np.errstate(divide="ignore"):  # rounding can make share 0 or 1: clipped below
            root = background.marginal_ppf(np.clip(share, 0.0, _BELOW_ONE), dim)
        previous = np.where(first > 0, values[rows, np.maximum(first - 1, 0)], -np.inf)
        root = np.maximum(root, previous)  # rounding must not put the root below G's last miss
        at_draw = values[rows, np.minimum(first, values.shape[1] - 1)]
        # Past the last draw G < p there, so the root is the background's (finite for p < 1).
        out[:, dim] = np.where(first == values.shape[1], root,
                               np.where(share < 1.0, np.minimum(root, at_draw), at_draw))
    return out
