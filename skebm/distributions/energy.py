"""The distribution of an energy-based model, p(y | x) = exp f(x, y) / Z(x)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, softmax

from skebm import _evaluator
from skebm.distributions._base import ConditionalDistribution

__all__ = ["EnergyDistribution"]

_PROPOSAL_SEED_BOUND = 2**31 - 1


class EnergyDistribution(ConditionalDistribution):
    """A batch of energy-based conditional densities, one per input row.

    Returned by :meth:`skebm.EnergyRegressor.predict_dist`; not built by hand.

    How quantities are computed depends on the target dimension d:

    * **d = 1** -- the density is evaluated on a dense grid (``grid_size``
      evenly spaced points spanning the training targets plus a margin, with
      coarser tails reaching far beyond) and normalised with the trapezoid
      rule, the paper's evaluation protocol. The normaliser, mean, variance,
      CDF and quantiles are then accurate to quadrature error.
    * **d > 1** -- self-normalised importance sampling with ``n_samples`` draws
      from the learned proposal q(y | x) (paper eq. 7): weights
      ``w_m ∝ exp f(x, y_m) / q(y_m | x)``. The normaliser, moments, joint CDF and
      marginal quantiles are Monte-Carlo estimates whose accuracy grows with
      ``n_samples`` and with how well q covers p.

    In both cases :meth:`logpdf` evaluates f exactly at the query points and
    subtracts the estimated log normaliser, and :meth:`sample` draws by
    sampling-importance-resampling (SIR) from ``n_samples`` proposals per row.
    Draws use common random numbers across rows, so results do not depend on
    how rows are batched, and a fixed ``seed`` makes every method deterministic.

    Parameters
    ----------
    evaluator : EnergyEvaluator
        Evaluates the fitted network for the rows.
    rows : ndarray of int, optional
        Which of the evaluator's rows this batch holds (all by default).
    n_samples : int, default=1024
        Proposal draws per row for importance sampling.
    grid_size : int, default=2048
        Grid points for 1-D targets.
    seed : int, default=0
        Seed of the importance-sampling draws.
    """

    def __init__(self, evaluator, rows=None, n_samples: int = 1024, grid_size: int = 2048,
                 seed: int = 0) -> None:
        rows = np.arange(evaluator.n_rows) if rows is None else np.asarray(rows)
        super().__init__(len(rows), evaluator.target_dim)
        self._evaluator = evaluator
        self._rows = rows
        self.n_samples = int(n_samples)
        self.grid_size = int(grid_size)
        self.seed = int(seed)
        self._summary: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _take(self, rows: np.ndarray) -> EnergyDistribution:
        return EnergyDistribution(self._evaluator, self._rows[rows], self.n_samples,
                                  self.grid_size, self.seed)

    # ------------------------------------------------------------ summary
    def log_normalizer(self) -> np.ndarray:
        """Estimated log Z(x) of each row, in user target units.

        Returns
        -------
        ndarray of shape (n,)
            The log normaliser of each row.
        """
        return self._summaries()[0]

    def mean(self) -> np.ndarray:
        """Mean of each distribution.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._summaries()[1])

    def var(self) -> np.ndarray:
        """Marginal variance of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._summaries()[2])

    def _summaries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log normaliser, mean and variance of every row, computed once."""
        if self._summary is None:
            parts = [self._chunk_summary(rows) for rows in self._row_chunks()]
            self._summary = tuple(np.concatenate(p) for p in zip(*parts))
        return self._summary

    def _chunk_summary(self, rows: np.ndarray):
        points, log_weights = self._weighted_points(rows, self.seed)
        log_z = logsumexp(log_weights, axis=1)
        weights = np.exp(log_weights - log_z[:, None])  # (r, k)
        mean = np.einsum("rk,rkd->rd", weights, points)
        var = np.einsum("rk,rkd->rd", weights, np.square(points - mean[:, None, :]))
        if self.target_dim > 1:
            log_z = log_z - math.log(self.n_samples)
        return log_z, mean, var

    def _weighted_points(self, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Points and unnormalised log weights representing p for each row.

        On the grid (d = 1): grid points with log f + log trapezoid weight.
        Otherwise: proposal draws with log importance weights f - log q.
        """
        if self.target_dim == 1:
            grid = self._evaluator.grid(self.grid_size)
            log_f = self._evaluator.log_unnormalized(rows, grid.reshape(1, -1, 1))
            points = np.broadcast_to(grid.reshape(1, -1, 1), (len(rows), grid.size, 1))
            return points, log_f + _log_trapezoid_weights(grid)
        points, log_q = self._evaluator.proposal_draws(rows, self.n_samples, seed)
        return points, self._evaluator.log_unnormalized(rows, points) - log_q

    def _row_chunks(self):
        if self.target_dim == 1:
            points = self._evaluator.grid(self.grid_size).size
        else:
            points = self.n_samples
        size = max(1, _evaluator.PAIRS_PER_CHUNK // points)
        for start in range(0, self.n_rows, size):
            yield self._rows[start : start + size]

    # ------------------------------------------------------------ pointwise
    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        log_f = self._evaluator.log_unnormalized(self._rows, points)
        return log_f - self.log_normalizer()[:, None]

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        out, start = np.empty(points.shape[:2]), 0
        for rows in self._row_chunks():
            where = slice(start, start + len(rows))
            if self.target_dim == 1:
                grid, cumulative = self._grid_cdf(rows)
                out[where] = _interpolate_rows(points[where, :, 0], grid, cumulative)
            else:
                draws, log_weights = self._weighted_points(rows, self.seed)
                weights = softmax(log_weights, axis=1)
                below = np.all(draws[:, None, :, :] <= points[where, :, None, :], axis=-1)
                out[where] = np.einsum("rkm,rm->rk", below, weights)
            start += len(rows)
        return out

    def _grid_cdf(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid and the trapezoid-integrated CDF of each row on it, ``(r, G)``."""
        grid = self._evaluator.grid(self.grid_size)
        log_f = self._evaluator.log_unnormalized(rows, grid.reshape(1, -1, 1))
        density = np.exp(log_f - log_f.max(axis=1, keepdims=True))
        pieces = 0.5 * (density[:, 1:] + density[:, :-1]) * np.diff(grid)
        cumulative = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(pieces, axis=1)], axis=1)
        return grid, cumulative / cumulative[:, -1:]

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        out, start = np.empty((self.n_rows, self.target_dim)), 0
        for rows in self._row_chunks():
            where = slice(start, start + len(rows))
            if self.target_dim == 1:
                grid, cumulative = self._grid_cdf(rows)
                out[where, 0] = _inverse_interpolate_rows(probabilities[where], grid, cumulative)
            else:
                draws, log_weights = self._weighted_points(rows, self.seed)
                out[where] = _weighted_quantiles(draws, softmax(log_weights, axis=1),
                                                 probabilities[where])
            start += len(rows)
        return out

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(_PROPOSAL_SEED_BOUND))
        chunks = []
        for rows in self._row_chunks():
            draws, log_q = self._evaluator.proposal_draws(rows, self.n_samples, seed)
            log_weights = self._evaluator.log_unnormalized(rows, draws) - log_q
            cumulative = np.cumsum(softmax(log_weights, axis=1), axis=1)
            picks = _searchsorted_rows(cumulative, rng.random((len(rows), n_samples)))
            chunks.append(np.take_along_axis(draws, picks[:, :, None], axis=1))
        return np.concatenate(chunks)

    def mode(self) -> np.ndarray:
        """Most likely target of each row: gradient ascent on f from the best candidate.

        Starts from the highest-density grid point (d = 1) or proposal draw
        (d > 1), then refines by gradient ascent on f(x, y), the prediction
        rule of earlier energy-based regression work.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        starts = []
        for rows in self._row_chunks():
            points, log_weights = self._weighted_points(rows, self.seed)
            if self.target_dim > 1:  # best by density, not by importance weight
                log_weights = self._evaluator.log_unnormalized(rows, points)
            best = np.argmax(log_weights, axis=1)
            starts.append(points[np.arange(len(rows)), best])
        return self._squeeze_target(self._evaluator.ascend(self._rows, np.concatenate(starts)))


def _log_trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    """Log quadrature weights of the trapezoid rule on a sorted (uneven) grid."""
    spacing = np.diff(grid)
    weights = np.zeros(grid.shape)
    weights[:-1] += 0.5 * spacing
    weights[1:] += 0.5 * spacing
    return np.log(weights)


def _searchsorted_rows(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row-wise ``searchsorted`` of ``values (r, s)`` into ``sorted_rows (r, m)`` values in [0, 1].

    Offsets row i by 2i so that one flat search serves every row.
    """
    n_rows, width = sorted_rows.shape
    offsets = 2.0 * np.arange(n_rows)[:, None]
    flat = np.searchsorted((sorted_rows + offsets).ravel(), (values + offsets).ravel())
    return np.minimum(flat.reshape(values.shape) - width * np.arange(n_rows)[:, None], width - 1)


def _interpolate_rows(points: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of per-row ``values (r, G)`` on a shared grid at ``points (r, k)``.

    Outside the grid, the first and last values are used.
    """
    right = np.clip(np.searchsorted(grid, points), 1, len(grid) - 1)
    left = right - 1
    fraction = np.clip((points - grid[left]) / (grid[right] - grid[left]), 0.0, 1.0)
    low = np.take_along_axis(values, left, axis=1)
    high = np.take_along_axis(values, right, axis=1)
    return low + fraction * (high - low)


def _inverse_interpolate_rows(
    probabilities: np.ndarray, grid: np.ndarray, cumulative: np.ndarray
) -> np.ndarray:
    """Invert each row's piecewise-linear CDF ``(r, G)`` at ``probabilities (r,)``."""
    right = _searchsorted_rows(cumulative, probabilities[:, None])[:, 0]
    right = np.clip(right, 1, len(grid) - 1)
    rows = np.arange(len(probabilities))
    low, high = cumulative[rows, right - 1], cumulative[rows, right]
    fraction = np.where(high > low, (probabilities - low) / np.maximum(high - low, 1e-300), 0.5)
    return grid[right - 1] + np.clip(fraction, 0.0, 1.0) * (grid[right] - grid[right - 1])


def _weighted_quantiles(draws: np.ndarray, weights: np.ndarray,
                        probabilities: np.ndarray) -> np.ndarray:
    """Per-dimension weighted quantiles of ``draws (r, m, d)``; returns ``(r, d)``."""
    out = np.empty((draws.shape[0], draws.shape[2]))
    for dim in range(draws.shape[2]):
        order = np.argsort(draws[:, :, dim], axis=1)
        values = np.take_along_axis(draws[:, :, dim], order, axis=1)
        cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
        picks = _searchsorted_rows(cumulative, probabilities[:, None])[:, 0]
        out[:, dim] = values[np.arange(len(values)), picks]
    return out
