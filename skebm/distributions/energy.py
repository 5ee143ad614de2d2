"""The distribution of an energy-based model, p(y | x) = exp f(x, y) / Z(x)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, softmax

from skebm._chunking import VALUES_PER_CHUNK, rows_per_point_chunk
from skebm._quadrature import RowNodes, adaptive_nodes
from skebm.distributions._base import ConditionalDistribution

__all__ = ["EnergyDistribution"]

_PROPOSAL_SEED_BOUND = 2**31 - 1
_NODES_PER_ROW = 1024
"""Nodes per row assumed when sizing chunks of rows for 1-D quadrature (typically 150-400)."""


class EnergyDistribution(ConditionalDistribution):
    """A batch of energy-based conditional densities, one per input row.

    Returned by :meth:`skebm.EnergyRegressor.predict_dist`; not built by hand.
    It is a value: it holds its own copy of the energy network's head, so a
    later fit of the estimator does not change it.

    How quantities are computed depends on the target dimension d:

    * **d = 1** -- adaptive quadrature, per row: nodes where the learned
      proposal q(y | x) puts its components, plus a coarse grid over the
      training range and far into the tails (so mass the proposal misses is
      counted), refined where the estimated error is large, with log f
      interpolated linearly between nodes (exact where the ReLU network is
      linear) and a curvature correction. The log normaliser is accurate to
      about 1e-4 nats (the error budget is in ``skebm._quadrature``). The
      normaliser, mean, variance, CDF and quantiles all come from these nodes,
      and :meth:`sample` inverts exactly that CDF, so samples follow :meth:`cdf`.
    * **d > 1** -- self-normalised importance sampling with ``n_samples``
      draws from the proposal (paper eq. 7), ``w_m ∝ exp f(x, y_m) / q(y_m | x)``,
      the draws stratified by mixture component and randomised quasi-Monte
      Carlo (scrambled Sobol) within each.
      The normaliser, moments, joint CDF and marginal quantiles are
      Monte-Carlo estimates whose accuracy grows with ``n_samples`` and with
      how well q covers p; :meth:`sample` resamples the draws by their weights
      (sampling-importance-resampling).

    In both cases :meth:`logpdf` evaluates f exactly at the query points and
    subtracts the estimated log normaliser.

    Every row is computed independently of the others: proposal draws are the
    same for every row (common random numbers, from ``seed``), the random
    numbers of :meth:`sample` come from a stream per (seed, row), so a row's
    results do not depend on which other rows share its batch or on chunking
    (up to float32 rounding of the network), and a selection ``d[rows]``
    gives the same numbers as the whole batch. A fixed ``seed`` makes every
    method deterministic.

    Parameters
    ----------
    evaluator : EnergyEvaluator
        Evaluates the fitted network for the rows.
    rows : ndarray of int, optional
        Which of the evaluator's rows this batch holds (all by default).
    n_samples : int, default=256
        Proposal draws per row for importance sampling (d > 1).
    seed : int, default=0
        Seed of the importance-sampling draws.
    """

    def __init__(self, evaluator, rows=None, n_samples: int = 256, seed: int = 0) -> None:
        rows = np.arange(evaluator.n_rows) if rows is None else np.asarray(rows, dtype=np.intp)
        super().__init__(len(rows), evaluator.target_dim)
        self._evaluator = evaluator
        self._rows = rows
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self._summary: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _take(self, rows: np.ndarray) -> EnergyDistribution:
        return EnergyDistribution(self._evaluator, self._rows[rows], self.n_samples, self.seed)

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
        with np.errstate(over="ignore"):  # only where the variance exceeds float64
            return self._squeeze_target(np.square(self._summaries()[2]))

    def std(self) -> np.ndarray:
        """Marginal standard deviation of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._summaries()[2])

    def _summaries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log normaliser, mean and standard deviation of every row, computed once."""
        if self._summary is None:
            d = self.target_dim
            log_z, mean, std = np.empty(self.n_rows), np.empty((self.n_rows, d)), \
                np.empty((self.n_rows, d))
            for where, rows in self._row_chunks():
                log_z[where], mean[where], std[where] = self._chunk_summary(rows)
            self._summary = (log_z, mean, std)
        return self._summary

    def _chunk_summary(self, rows: np.ndarray):
        if self.target_dim == 1:
            log_z, mean, std = self._nodes(rows).summary()
            return log_z, mean[:, None], std[:, None]
        points, log_weights = self._weighted_draws(rows, self.seed)
        log_z = logsumexp(log_weights, axis=1)
        weights = np.exp(log_weights - log_z[:, None])  # (r, m)
        mean = np.einsum("rm,rmd->rd", weights, points)
        # Centred and scaled, so that huge targets do not overflow the square.
        scale = self._evaluator.target_scale
        centred = (points - mean[:, None, :]) / scale
        std = np.sqrt(np.einsum("rm,rmd->rd", weights, np.square(centred))) * scale
        return log_z - math.log(self.n_samples), mean, std

    def _nodes(self, rows: np.ndarray) -> RowNodes:
        """Each row's adaptive 1-D quadrature nodes and log density at them."""
        evaluator = self._evaluator
        log_weights, means, stds = evaluator.proposal_components(rows)

        def evaluate(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
            return evaluator.log_unnormalized(rows[positions], grid_nodes=indices[:, None])[:, 0]

        return adaptive_nodes(evaluator.fine_grid(), log_weights, means[..., 0], stds[..., 0],
                              evaluate)

    def _weighted_draws(self, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Proposal draws ``(r, m, d)`` and their log importance weights f - log q ``(r, m)``."""
        points, log_q = self._evaluator.proposal_draws(rows, self.n_samples, seed)
        return points, self._evaluator.log_unnormalized(rows, points) - log_q

    def _row_chunks(self):
        """``(slice, rows)`` pairs covering the batch, sized by the evaluator's rule."""
        if self.target_dim == 1:
            size = rows_per_point_chunk(_NODES_PER_ROW, VALUES_PER_CHUNK)
        else:
            size = rows_per_point_chunk(self.n_samples)
        for start in range(0, self.n_rows, size):
            yield slice(start, start + size), self._rows[start : start + size]

    # ------------------------------------------------------------ pointwise
    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        log_f = self._evaluator.log_unnormalized(self._rows, points)
        return log_f - self.log_normalizer()[:, None]

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        out = np.empty(points.shape[:2])
        for where, rows in self._row_chunks():
            if self.target_dim == 1:
                out[where] = self._nodes(rows).cdf(points[where, :, 0])
            else:
                draws, log_weights = self._weighted_draws(rows, self.seed)
                weights = softmax(log_weights, axis=1)
                below = np.all(draws[:, None, :, :] <= points[where, :, None, :], axis=-1)
                out[where] = np.einsum("rkm,rm->rk", below, weights)
        return out

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        out = np.empty((self.n_rows, self.target_dim))
        for where, rows in self._row_chunks():
            if self.target_dim == 1:
                out[where, 0] = self._nodes(rows).ppf(probabilities[where, None])[:, 0]
            else:
                draws, log_weights = self._weighted_draws(rows, self.seed)
                out[where] = _weighted_quantiles(draws, softmax(log_weights, axis=1),
                                                 probabilities[where])
        return out

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(_PROPOSAL_SEED_BOUND))
        out = np.empty((self.n_rows, n_samples, self.target_dim))
        for where, rows in self._row_chunks():
            uniforms = _row_uniforms(seed, rows, n_samples)  # (r, n_samples)
            if self.target_dim == 1:  # inverse CDF on the quadrature nodes
                out[where, :, 0] = self._nodes(rows).ppf(uniforms)
            else:  # sampling-importance-resampling of the proposal draws
                draws, log_weights = self._weighted_draws(rows, seed)
                cumulative = np.cumsum(softmax(log_weights, axis=1), axis=1)
                picks = _search_unit_rows(cumulative, uniforms)
                out[where] = np.take_along_axis(draws, picks[:, :, None], axis=1)
        return out

    def mode(self) -> np.ndarray:
        """Most likely target of each row: gradient ascent on f from the best candidate.

        Starts from the quadrature node (d = 1) or proposal draw (d > 1) of
        highest density, then refines by gradient ascent on f(x, y), the
        prediction rule of earlier energy-based regression work.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        starts = np.empty((self.n_rows, self.target_dim))
        for where, rows in self._row_chunks():
            if self.target_dim == 1:
                starts[where, 0] = self._nodes(rows).argmax()
            else:
                points, _ = self._evaluator.proposal_draws(rows, self.n_samples, self.seed)
                best = np.argmax(self._evaluator.log_unnormalized(rows, points), axis=1)
                starts[where] = points[np.arange(len(rows)), best]
        return self._squeeze_target(self._evaluator.ascend(self._rows, starts))


def _row_uniforms(seed: int, rows: np.ndarray, n_samples: int) -> np.ndarray:
    """Uniform(0, 1) numbers ``(r, n_samples)`` from a counter-based stream per (seed, row).

    A SplitMix64 hash of (seed, row, draw), so a row's numbers do not depend on
    which rows are drawn with it.
    """
    with np.errstate(over="ignore"):
        keys = _mix64(_mix64(np.full(len(rows), seed, dtype=np.uint64)) ^ rows.astype(np.uint64))
        counters = np.arange(n_samples, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        bits = _mix64(keys[:, None] + counters[None, :])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _mix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, a bijective 64-bit mixer (wrapping arithmetic)."""
    values = values + np.uint64(0x9E3779B97F4A7C15)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _search_unit_rows(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row-wise ``searchsorted`` of ``values (r, s)`` into ``sorted_rows (r, m)``, both in [0, 1].

    Offsets row i by 2i so that one flat search serves every row.
    """
    n_rows, width = sorted_rows.shape
    offsets = 2.0 * np.arange(n_rows)[:, None]
    flat = np.searchsorted((sorted_rows + offsets).ravel(), (values + offsets).ravel())
    return np.minimum(flat.reshape(values.shape) - width * np.arange(n_rows)[:, None], width - 1)


def _weighted_quantiles(draws: np.ndarray, weights: np.ndarray,
                        probabilities: np.ndarray) -> np.ndarray:
    """Per-dimension weighted quantiles of ``draws (r, m, d)``; returns ``(r, d)``."""
    out = np.empty((draws.shape[0], draws.shape[2]))
    for dim in range(draws.shape[2]):
        order = np.argsort(draws[:, :, dim], axis=1)
        values = np.take_along_axis(draws[:, :, dim], order, axis=1)
        cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
        picks = _search_unit_rows(cumulative, probabilities[:, None])[:, 0]
        out[:, dim] = values[np.arange(len(values)), picks]
    return out
