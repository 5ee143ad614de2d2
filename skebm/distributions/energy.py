"""The distribution of an energy-based model, p(y | x) = exp f(x, y) / Z(x).

:class:`EnergyDistribution` holds what every target dimension shares (the
background and proposal mixtures, caching, chunking, the mode); two backends
compute the rest: :class:`~skebm.distributions._energy_quadrature.QuadratureEnergyDistribution`
for 1-D targets and
:class:`~skebm.distributions._energy_sampled.SampledEnergyDistribution` for
d > 1. ``EnergyDistribution(evaluator, ...)`` returns the backend for the
evaluator's target dimension.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np

from skebm.distributions._background import Background
from skebm.distributions._base import ConditionalDistribution, row_uniforms
from skebm.distributions.mixture import GaussianMixtureDistribution

__all__ = ["EnergyDistribution"]

_SAMPLING_SEED_BOUND = 2**31 - 1


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
      how well q covers p. :meth:`sample` runs one independence
      Metropolis-Hastings chain per draw, with q as its proposal and fresh
      proposal draws at every step, so draws are distinct and follow p
      itself (exactly in the limit of long chains; the chain length and its
      measured error are in ``skebm.distributions._chains``).

    In both cases :meth:`logpdf` evaluates f exactly at the query points and
    subtracts the estimated log normaliser.

    With ``background_weight`` ``ε > 0`` the distribution is the defensive
    mixture ``(1 - ε) p + ε N(ȳ, diag(s_y²))`` of the energy-based density p
    and a broad Gaussian with the training targets' mean and standard
    deviation, which bounds the log loss of points that p deems impossible.
    Every method is that of the mixture, exactly given p's quadrature or
    importance-sampling estimates: density, CDF and moments combine the two
    components' closed forms; quantiles solve the mixture's CDF (d = 1:
    bracketed root finding on the quadrature CDF; d > 1: in closed form
    between the sorted draws); samples come from the background with
    probability ε. :meth:`log_normalizer` stays that of f.

    With ``proposal_weight`` ``a > 0`` the energy-based density itself is
    first mixed with the learned proposal, ``(1 - a) p + a q`` (and the
    background, if any, is mixed into that). Every method treats the mixture
    as the distribution, exactly as above: its unnormalised log density
    ``log((1 - a) exp f / Z + a q)``, with ``Z`` the normaliser of
    ``exp f`` (computed first, by the same quadrature or the same
    importance-sampling draws), takes the place of f. In 1-D its quadrature
    is adapted to the mixture; with d > 1 the importance weights become
    ``(1 - a) exp f / (Z q) + a``.

    Every row is computed independently of the others: proposal draws are the
    same for every row (common random numbers, from ``seed``), the random
    numbers of :meth:`sample` come from a stream per (seed, row), so a row's
    results do not depend on which other rows share its batch or on chunking
    (up to float32 rounding of the network), and a selection ``d[rows]``
    gives the same numbers as the whole batch. A fixed ``seed`` makes every
    method deterministic.

    Besides the hooks of :class:`ConditionalDistribution`, ``_evaluator``
    (the ``EnergyEvaluator`` of ``skebm._evaluator``, whose
    ``proposal_components(rows)`` gives q) and ``_rows`` (its rows this batch
    holds) are a protected contract: the estimator reads them to stack the
    proposal's weight.

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
    background_weight : float, default=0.0
        Weight ``ε`` in ``[0, 1)`` of the broad Gaussian background; 0 gives
        the energy-based density alone.
    proposal_weight : float, default=0.0
        Weight ``a`` in ``[0, 1]`` of the proposal mixed into the energy-based
        density; 0 gives the energy-based density alone.
    """

    def __new__(cls, evaluator=None, rows=None, n_samples: int = 256, seed: int = 0,
                background_weight: float = 0.0, proposal_weight: float = 0.0):
        # The factory: the public class builds the backend of the target dimension.
        if cls is EnergyDistribution and evaluator is not None:
            from skebm.distributions._energy_quadrature import QuadratureEnergyDistribution
            from skebm.distributions._energy_sampled import SampledEnergyDistribution

            cls = (QuadratureEnergyDistribution if evaluator.target_dim == 1
                   else SampledEnergyDistribution)
        return super().__new__(cls)

    def __init__(self, evaluator, rows=None, n_samples: int = 256, seed: int = 0,
                 background_weight: float = 0.0, proposal_weight: float = 0.0) -> None:
        rows = np.arange(evaluator.n_rows) if rows is None else np.asarray(rows, dtype=np.intp)
        super().__init__(len(rows), evaluator.target_dim)
        self._evaluator = evaluator
        self._rows = rows
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.background_weight = float(background_weight)
        self.proposal_weight = float(proposal_weight)
        if not 0.0 <= self.proposal_weight <= 1.0:
            raise ValueError(f"proposal_weight must lie in [0, 1], got {proposal_weight!r}.")
        self._background = Background(self.background_weight, evaluator.target_mean,
                                      evaluator.target_scale)
        self._summary: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._energy_log_z: np.ndarray | None = None  # over the evaluator's rows, NaN: not yet

    def __repr__(self) -> str:
        return f"EnergyDistribution(n_rows={self.n_rows}, target_dim={self.target_dim})"

    def _take(self, rows: np.ndarray) -> EnergyDistribution:
        taken = type(self)(self._evaluator, self._rows[rows], self.n_samples, self.seed,
                           self.background_weight, self.proposal_weight)
        taken._energy_log_z = self._energy_log_z  # deterministic values: safe to share
        return taken

    # ------------------------------------------------------------ backend hooks
    @abstractmethod
    def _chunk_summary(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """Log normaliser ``(r,)``, mean and std ``(r, d)`` of evaluator ``rows``' density."""

    @abstractmethod
    def _chunk_energy_log_normalizer(self, rows: np.ndarray) -> np.ndarray:
        """log Z ``(r,)`` of exp f alone for evaluator ``rows``."""

    @abstractmethod
    def _chunk_cdf(self, rows: np.ndarray, points: np.ndarray) -> np.ndarray:
        """CDF ``(r, k)`` of the density (background excluded) at ``points (r, k, d)``."""

    @abstractmethod
    def _chunk_ppf(self, rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Marginal quantiles ``(r, d)`` of the distribution, background included."""

    @abstractmethod
    def _chunk_sample(self, rows: np.ndarray, uniforms: np.ndarray, seed: int) -> np.ndarray:
        """Draws ``(r, s, d)`` of the density (background excluded).

        ``uniforms (r, s)`` are uniform on (0, 1) and independent of the
        background's numbers; ``seed`` keys any further per-row streams.
        """

    @abstractmethod
    def _background_uniforms(self, seed: int, rows: np.ndarray,
                             uniforms: np.ndarray) -> np.ndarray:
        """Uniforms ``(r, s, d)`` for background draws, given the selecting ones ``(r, s)``."""

    @abstractmethod
    def _mode_starts(self, rows: np.ndarray) -> np.ndarray:
        """The candidate of highest density ``(r, d)`` from which a row's mode ascent starts."""

    @abstractmethod
    def _chunk_size(self) -> int:
        """Rows computed at once, by the evaluator's rule for their nodes or draws."""

    # ------------------------------------------------------------ summary
    def log_normalizer(self) -> np.ndarray:
        """Estimated log Z(x) of each row, in user target units.

        The normaliser of ``exp f(x, y)`` alone, whatever the background and
        proposal weights.

        Returns
        -------
        ndarray of shape (n,)
            The log normaliser of each row.
        """
        if self.proposal_weight:
            return self._energy_log_normalizer(self._rows)  # a fresh array
        return self._summaries()[0].copy()  # the cache must not be edited through it

    def mean(self) -> np.ndarray:
        """Mean of each distribution.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._moments()[0]).copy()

    def var(self) -> np.ndarray:
        """Marginal variance of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        with np.errstate(over="ignore"):  # only where the variance exceeds float64
            return self._squeeze_target(np.square(self._moments()[1]))

    def std(self) -> np.ndarray:
        """Marginal standard deviation of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._moments()[1]).copy()

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and marginal standard deviation of the distribution, background included."""
        _, mean, std = self._summaries()
        return self._background.mix_moments(mean, std)

    def _summaries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log normaliser, mean and standard deviation of every row's density, computed once.

        That density is exp f, or with a proposal weight the mixture with q
        (whose normaliser is then 1 up to the estimate's error).
        """
        if self._summary is None:
            d = self.target_dim
            log_z, mean, std = np.empty(self.n_rows), np.empty((self.n_rows, d)), \
                np.empty((self.n_rows, d))
            for where, rows in self._row_chunks():
                log_z[where], mean[where], std[where] = self._chunk_summary(rows)
            self._summary = (log_z, mean, std)
        return self._summary

    def _log_density(self, rows: np.ndarray, targets: np.ndarray | None = None, *,
                     grid_nodes: np.ndarray | None = None) -> np.ndarray:
        """The log density whose distribution this is, before normalisation.

        At targets or fine-grid nodes, as ``log_unnormalized``: f itself, or
        with a proposal weight ``a > 0``, ``log((1 - a) exp(f) / Z + a q)``
        with ``Z`` exp f's normaliser.
        """
        weight = self.proposal_weight
        evaluator = self._evaluator
        log_f = evaluator.log_unnormalized(rows, targets, grid_nodes=grid_nodes)
        if not weight:
            return log_f
        points = (evaluator.fine_grid().values(grid_nodes)[..., None] if grid_nodes is not None
                  else np.broadcast_to(targets, (len(rows),) + targets.shape[1:]))
        log_q = self._proposal(rows)._logpdf_points(points)
        log_p = log_f - self._energy_log_normalizer(rows)[:, None]
        with np.errstate(divide="ignore"):  # weight 1: the energy's share is exp(-inf) = 0
            return np.logaddexp(np.log1p(-weight) + log_p, math.log(weight) + log_q)

    def _proposal(self, rows: np.ndarray) -> GaussianMixtureDistribution:
        """The learned proposal q(y | x) of evaluator ``rows``, in user units."""
        return GaussianMixtureDistribution(*self._evaluator.proposal_components(rows))

    def _energy_log_normalizer(self, rows: np.ndarray) -> np.ndarray:
        """log Z of exp f alone for evaluator ``rows`` ``(r,)``, computed once per row.

        By the quadrature (d = 1) or the importance-sampling draws (d > 1) of
        this distribution's seed, as without a proposal weight.
        """
        if self._energy_log_z is None:
            self._energy_log_z = np.full(self._evaluator.n_rows, np.nan)
        cache = self._energy_log_z
        missing = np.unique(rows[np.isnan(cache[rows])])
        size = self._chunk_size()
        for start in range(0, len(missing), size):
            chunk = missing[start : start + size]
            cache[chunk] = self._chunk_energy_log_normalizer(chunk)
        return cache[rows]

    def _row_chunks(self):
        """``(slice, rows)`` pairs covering the batch, sized by :meth:`_chunk_size`."""
        size = self._chunk_size()
        for start in range(0, self.n_rows, size):
            yield slice(start, start + size), self._rows[start : start + size]

    # ------------------------------------------------------------ pointwise
    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        log_density = self._log_density(self._rows, points) - self._summaries()[0][:, None]
        return self._background.mix_log_density(log_density, points)

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        out = np.empty(points.shape[:2])
        for where, rows in self._row_chunks():
            out[where] = self._chunk_cdf(rows, points[where])
        return self._background.mix_cdf(out, points)

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        out = np.empty((self.n_rows, self.target_dim))
        for where, rows in self._row_chunks():
            out[where] = self._chunk_ppf(rows, probabilities[where])
        return out

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(_SAMPLING_SEED_BOUND))
        background = self._background
        out = np.empty((self.n_rows, n_samples, self.target_dim))
        for where, rows in self._row_chunks():
            uniforms = row_uniforms(seed, rows, n_samples)  # (r, n_samples)
            # A draw below the background's weight comes from the background; the
            # rest of the unit interval, stretched back onto it, drives p's draw.
            from_background = uniforms < background.weight
            energy_uniforms = np.clip((uniforms - background.weight)
                                      / (1.0 - background.weight), 0.0, 1.0)
            out[where] = self._chunk_sample(rows, energy_uniforms, seed)
            if from_background.any():
                out[where][from_background] = background.draws(
                    self._background_uniforms(seed, rows, uniforms)[from_background])
        return out

    def mode(self) -> np.ndarray:
        """Most likely target of each row: gradient ascent on f from the best candidate.

        Starts from the quadrature node (d = 1) or proposal draw (d > 1) of
        highest density, then refines by gradient ascent on f(x, y), the
        prediction rule of earlier energy-based regression work. With a
        background, the background's mean is returned instead where the
        mixture's density is higher there (the background's small, smooth slope
        moves p's mode by a negligible amount, second order in its weight).
        With a proposal weight, the ascent on f is kept only where it does
        not lower the mixture's density below that of the starting candidate.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        starts = np.empty((self.n_rows, self.target_dim))
        for where, rows in self._row_chunks():
            starts[where] = self._mode_starts(rows)
        candidates = [self._evaluator.ascend(self._rows, starts)]
        if self.proposal_weight:
            candidates.append(starts)
        if self._background.active:
            candidates.append(np.broadcast_to(self._background.mean, starts.shape))
        modes = candidates[0]
        if len(candidates) > 1:
            stacked = np.stack(candidates, axis=1)  # (n, c, d)
            best = np.argmax(self._logpdf_points(stacked), axis=1)
            modes = stacked[np.arange(self.n_rows), best]
        return self._squeeze_target(modes)


def search_unit_rows(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row-wise ``searchsorted`` of ``values (r, s)`` into ``sorted_rows (r, m)``, both in [0, 1].

    Offsets row i by 2i so that one flat search serves every row.
    """
    n_rows, width = sorted_rows.shape
    offsets = 2.0 * np.arange(n_rows)[:, None]
    flat = np.searchsorted((sorted_rows + offsets).ravel(), (values + offsets).ravel())
    return np.minimum(flat.reshape(values.shape) - width * np.arange(n_rows)[:, None], width - 1)
