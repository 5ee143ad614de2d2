"""Adaptive per-row quadrature of unnormalised 1-D densities g(y) = exp f(x, y).

Every row integrates its own density on its own nodes, all picked from one
shared, evenly spaced fine grid (so that the energy's target embedding is
computed once per grid point, not once per (row, node) pair):

1. **Coarse nodes**, the same for every row: every ``COARSE_STRIDE``-th fine
   point over the whole grid (tails included) and every ``CORE_STRIDE``-th one
   over the training range, so that mass the proposal misses is still counted.
2. **Proposal-guided nodes**: for each proposal component of weight at least
   ``MIN_COMPONENT_WEIGHT``, nodes spaced at most ``sd / POINTS_PER_SD`` (a
   power-of-two number of fine steps) across ``mean +- WINDOW * sd``.
3. **Refinement**: each interval's error is estimated as
   ``mass * h^2 |(log g)''| / 12`` (the curvature from second divided
   differences of log g at its ends); an interval whose estimate exceeds its
   share ``TOLERANCE * Z / n_nodes`` is split into the power-of-two number of
   pieces that should bring it under, and this repeats on the rows that
   changed until no interval is selected or the fine grid is reached.

The rule between nodes takes log g linear -- exact where f is linear, as a
ReLU network is between its kinks -- and adds the curvature correction
``-c m h^2 / 12`` for an estimated curvature c of log g (the leading error
term where log g is smooth). Mean, variance, CDF and quantiles all
come from the same interpolant, so the CDF is the integral of the density the
moments use, and its inverse is exact.

Error budget (of log Z; the moments and CDF follow it): the estimated errors
of the intervals left unsplit sum to at most ``TOLERANCE`` of Z; the estimate
ignores the correction, which removes most of it, so measured errors are one
to two orders smaller (on the paper's first toy set about 1e-4 nats at worst
against the 32769-point dense grid, with 150-250 nodes per row; see
``benchmarks/prediction.py``). Below that lies the fine grid's own
resolution (1/32768 of its span), as for a dense-grid reference, and density
beyond the grid (six base-measure standard deviations past the training
range) is not counted. What no node can see is a spike narrower than the
coarse spacing that falls between coarse nodes, far from every proposal
component; the proposal is trained to cover the density's mass (it minimises
KL(p || q)), which is what makes this rare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["FineGrid", "RowNodes", "adaptive_nodes"]

COARSE_STRIDE = 512
CORE_STRIDE = 256
POINTS_PER_SD = 2.0
WINDOW = 5.0
MIN_COMPONENT_WEIGHT = 1e-3
TOLERANCE = 1e-2
_MAX_ROUNDS = 12


@dataclass(frozen=True)
class FineGrid:
    """Evenly spaced points ``start + step * i``, ``i = 0 .. size - 1``.

    ``core`` is the index range of the training targets (plus a margin).
    """

    start: float
    step: float
    size: int
    core: tuple[int, int]

    def values(self, index: np.ndarray) -> np.ndarray:
        """Grid values at (possibly fractional) indices."""
        return self.start + self.step * np.asarray(index, dtype=np.float64)

    def position(self, values: np.ndarray) -> np.ndarray:
        """Fractional grid index of ``values``, clipped to the grid."""
        with np.errstate(over="ignore", invalid="ignore"):
            position = (np.asarray(values, dtype=np.float64) - self.start) / self.step
        return np.clip(position, 0.0, self.size - 1.0)


@dataclass(frozen=True)
class RowNodes:
    """Each row's quadrature nodes and log density at them.

    Attributes
    ----------
    grid : FineGrid
    index : ndarray of int, shape (r, K)
        Fine-grid indices, increasing along each row; a row with fewer than
        ``K`` nodes repeats its last node (zero-width intervals add nothing).
    log_density : ndarray of shape (r, K)
        log g at the nodes.
    cumulative_table : ndarray of shape (r, K) or None
        :meth:`cumulative`, when already computed (see :meth:`with_cumulative`).
    """

    grid: FineGrid
    index: np.ndarray
    log_density: np.ndarray
    cumulative_table: np.ndarray | None = field(default=None, repr=False, compare=False)

    def _pieces(self) -> tuple[np.ndarray, ...]:
        """Per-interval moments of g, ``(r, K - 1)`` each, and the row's log peak ``(r,)``.

        Integrals over ``t`` in ``[0, h]`` of ``g(x_i + t)``, ``t g(x_i + t)`` and
        ``t^2 g(x_i + t)`` with log g linear between the nodes (exact where f
        is linear, as a ReLU network is between its kinks), g relative to the
        row's peak, plus a curvature correction: the mass ``-c m h^2 / 12`` that
        a curvature c of log g adds to an interval of mass m, placed at its middle.
        """
        peak = self.log_density.max(axis=1, keepdims=True)
        log_density = self.log_density - peak
        width = np.diff(self.index, axis=1).astype(np.float64)
        rise = np.diff(log_density, axis=1)  # u = beta * h
        left, right = np.exp(log_density[:, :-1]), np.exp(log_density[:, 1:])
        zeroth, first, second = (moment * width ** (k + 1) for k, moment
                                 in enumerate(_exponential_moments(rise, left, right)))
        curvature = _log_curvature(self.index, log_density)
        correction = np.maximum(-0.5 * (curvature[:, 1:] + curvature[:, :-1]) * width**2 / 12.0,
                                -1.0) * zeroth
        return zeroth, first, second, correction, peak[:, 0]

    def summary(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log normaliser, mean and standard deviation of each row, ``(r,)`` each."""
        zeroth, first, second, correction, peak = self._pieces()
        start = self.index[:, :-1].astype(np.float64)
        middle = 0.5 * (start + self.index[:, 1:])
        mass = (zeroth + correction).sum(axis=1)
        mean = (start * zeroth + first + middle * correction).sum(axis=1) / mass  # grid steps
        offset = start - mean[:, None]
        variance = (offset**2 * zeroth + 2.0 * offset * first + second
                    + (middle - mean[:, None]) ** 2 * correction).sum(axis=1) / mass
        log_z = np.log(mass) + peak + np.log(self.grid.step)
        return log_z, self.grid.values(mean), self.grid.step * np.sqrt(np.maximum(variance, 0.0))

    def cumulative(self) -> np.ndarray:
        """The CDF at the nodes, from 0 to 1 along each row, ``(r, K)``."""
        if self.cumulative_table is not None:
            return self.cumulative_table
        zeroth, _, _, correction, _ = self._pieces()
        pieces = zeroth + correction
        total = np.concatenate([np.zeros((len(pieces), 1)), np.cumsum(pieces, axis=1)], axis=1)
        return total / total[:, -1:]

    def cdf(self, values: np.ndarray) -> np.ndarray:
        """The CDF at ``values (r, k)`` (user units), ``(r, k)``.

        Between nodes the density is the same log-linear interpolant the
        moments integrate, so the CDF has a closed form there.
        """
        position = self.grid.position(values)
        nodes = self.index.astype(np.float64)
        offsets = (self.grid.size + 1.0) * np.arange(len(nodes))[:, None]
        right = _searchsorted_rows(nodes + offsets, position + offsets)
        left = right - 1
        low, high = np.take_along_axis(nodes, left, 1), np.take_along_axis(nodes, right, 1)
        fraction = np.clip((position - low) / np.maximum(high - low, 1e-300), 0.0, 1.0)
        fraction = _exponential_fraction(self._rise(left), fraction)
        cumulative = self.cumulative()
        below = np.take_along_axis(cumulative, left, 1)
        return below + fraction * (np.take_along_axis(cumulative, right, 1) - below)

    def ppf(self, probabilities: np.ndarray) -> np.ndarray:
        """The exact inverse of :meth:`cdf` at ``probabilities (r, k)`` in [0, 1], user units."""
        cumulative = self.cumulative()
        offsets = 2.0 * np.arange(len(cumulative))[:, None]
        right = _searchsorted_rows(cumulative + offsets, probabilities + offsets)
        left = right - 1
        low = np.take_along_axis(cumulative, left, 1)
        high = np.take_along_axis(cumulative, right, 1)
        fraction = np.clip((probabilities - low) / np.maximum(high - low, 1e-300), 0.0, 1.0)
        fraction = _exponential_fraction_inverse(self._rise(left), fraction)
        start = np.take_along_axis(self.index, left, 1)
        width = np.take_along_axis(self.index, right, 1) - start
        return self.grid.values(start + fraction * width)

    def _rise(self, left: np.ndarray) -> np.ndarray:
        """Change of log g over the intervals starting at columns ``left (r, k)``."""
        return (np.take_along_axis(self.log_density, left + 1, 1)
                - np.take_along_axis(self.log_density, left, 1))

    def with_cumulative(self) -> RowNodes:
        """The same nodes holding :meth:`cumulative`, for many CDF calls on them."""
        return replace(self, cumulative_table=self.cumulative())

    def take(self, rows: np.ndarray) -> RowNodes:
        """The nodes of the selected rows."""
        table = None if self.cumulative_table is None else self.cumulative_table[rows]
        return RowNodes(self.grid, self.index[rows], self.log_density[rows], table)

    def argmax(self) -> np.ndarray:
        """The node of highest density in each row, user units, ``(r,)``."""
        best = np.argmax(self.log_density, axis=1)
        return self.grid.values(self.index[np.arange(len(best)), best])


def adaptive_nodes(
    grid: FineGrid,
    log_weights: np.ndarray,
    means: np.ndarray,
    stds: np.ndarray,
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> RowNodes:
    """Place, evaluate and refine each row's quadrature nodes (see the module docstring).

    Parameters
    ----------
    grid : FineGrid
        The shared fine grid, in user units.
    log_weights, means, stds : ndarray of shape (r, K)
        Each row's proposal mixture, user units.
    evaluate : callable
        ``evaluate(row_positions, indices) -> log g``: the log density of rows
        ``row_positions (P,)`` (positions in ``0 .. r - 1``) at fine-grid
        indices ``(P,)``, for P (row, node) pairs.

    Returns
    -------
    RowNodes
    """
    index, count = _distinct_sorted(_initial_nodes(grid, log_weights, means, stds), grid.size)
    log_density = _evaluate(index, count, np.empty(index.shape), evaluate)
    active = np.arange(len(index))  # rows that may still need refinement
    for _ in range(_MAX_ROUNDS):
        width = count[active].max(initial=1)
        excess = _excess_error(index[active, :width], log_density[active, :width],
                               count[active])
        local, left = np.nonzero(excess > 1.0)
        if not len(local):
            break
        # The error falls as h^2: split into the number of pieces (a power of two, at
        # most the interval's width in fine steps) that brings it under its share.
        pieces = 2.0 ** np.ceil(0.5 * np.log2(excess[local, left]))
        active, local = np.unique(active[local], return_inverse=True)
        rows_index, rows_density = index[active], log_density[active]
        start, stop = rows_index[local, left], rows_index[local, left + 1]
        pieces = np.minimum(pieces, stop - start).astype(np.int64)
        group = np.repeat(np.arange(len(pieces)), pieces - 1)  # one entry per new node
        local, start, stop, pieces = (part[group] for part in (local, start, stop, pieces))
        middle = start + (stop - start) * (_rank_within_runs(group) + 1) // pieces
        added = np.bincount(local, minlength=len(active))
        new_index = np.full((len(active), added.max()), grid.size, dtype=index.dtype)
        new_index[local, _rank_within_runs(local)] = middle
        fresh = np.concatenate([np.zeros(rows_index.shape, bool), new_index < grid.size], 1)
        rows_index = np.concatenate([rows_index, new_index], axis=1)
        rows_density = np.concatenate([rows_density, np.zeros(new_index.shape)], axis=1)
        # Old padding repeats each row's last node, so it sorts behind the new nodes.
        order = np.argsort(rows_index, axis=1, kind="stable")
        count[active] += added
        width = count.max()
        rows_index, rows_density, fresh = (
            _pad_columns(np.take_along_axis(part, order, 1)[:, : count[active].max()], width)
            for part in (rows_index, rows_density, fresh))
        index, log_density = _pad_columns(index, width), _pad_columns(log_density, width)
        index[active] = _repeat_last(rows_index, count[active])
        log_density[active] = _evaluate(index[active], count[active], rows_density,
                                        _on_rows(evaluate, active), fresh)
    return RowNodes(grid, index, log_density)


def _initial_nodes(grid, log_weights, means, stds) -> np.ndarray:
    """Coarse nodes plus proposal-guided windows, unsorted with duplicates, ``(r, m)``."""
    last = grid.size - 1
    core = np.arange(-(-grid.core[0] // CORE_STRIDE) * CORE_STRIDE,
                     min(grid.core[1], last) + 1, CORE_STRIDE)
    shared = np.union1d(np.arange(0, grid.size, COARSE_STRIDE), core)
    shared = np.union1d(shared, [last])
    centre = (means - grid.start) / grid.step
    width = stds / grid.step
    exponent = np.clip(np.floor(np.log2(np.maximum(width / POINTS_PER_SD, 1.0))), 0,
                       np.log2(COARSE_STRIDE))
    stride = (2 ** exponent).astype(np.int64)
    low = np.ceil(np.clip(centre - WINDOW * width, 0, last) / stride).astype(np.int64) * stride
    high = np.floor(np.clip(centre + WINDOW * width, 0, last) / stride).astype(np.int64) * stride
    count = np.where(log_weights >= np.log(MIN_COMPONENT_WEIGHT), (high - low) // stride + 1, 0)
    steps = np.arange(max(int(count.max(initial=0)), 0))
    window = low[..., None] + stride[..., None] * steps
    window = np.where(steps < count[..., None], window, grid.size).reshape(len(means), -1)
    return np.concatenate([np.broadcast_to(shared, (len(means), shared.size)), window], axis=1)


def _pad_columns(values: np.ndarray, width: int) -> np.ndarray:
    """Widen ``values (r, k)`` to ``width`` columns by repeating the last column."""
    extra = width - values.shape[1]
    return np.concatenate([values, np.repeat(values[:, -1:], extra, 1)], 1) if extra else values


def _on_rows(evaluate, rows: np.ndarray):
    """``evaluate`` for a subset of rows: maps positions in the subset to the full batch."""
    return lambda positions, indices: evaluate(rows[positions], indices)


def _distinct_sorted(index: np.ndarray, sentinel: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row, drop duplicates and ``sentinel`` entries; pad by repeating the last."""
    index = np.sort(index, axis=1)
    repeated = np.zeros(index.shape, dtype=bool)
    repeated[:, 1:] = index[:, 1:] == index[:, :-1]
    index[repeated] = sentinel
    index.sort(axis=1)
    count = (index < sentinel).sum(axis=1)
    return _repeat_last(index[:, : count.max()], count), count


def _repeat_last(index: np.ndarray, count: np.ndarray) -> np.ndarray:
    last = index[np.arange(len(index)), count - 1]
    return np.where(np.arange(index.shape[1]) < count[:, None], index, last[:, None])


def _evaluate(index, count, log_density, evaluate, which=None) -> np.ndarray:
    """Fill ``log_density`` at the nodes selected by ``which`` (all valid ones by default)."""
    valid = np.arange(index.shape[1]) < count[:, None]
    which = valid if which is None else which & valid
    rows, columns = np.nonzero(which)
    log_density = log_density.copy()
    log_density[rows, columns] = evaluate(rows, index[rows, columns])
    last = log_density[np.arange(len(index)), count - 1]
    return np.where(valid, log_density, last[:, None])


def _log_curvature(index: np.ndarray, log_density: np.ndarray) -> np.ndarray:
    """Second divided differences of log g at each node, ``(r, K)``; 0 at the ends."""
    width = np.diff(index, axis=1).astype(np.float64)
    open_ = width > 0
    slope = np.diff(log_density, axis=1) / np.where(open_, width, 1.0)
    curvature = np.zeros(index.shape)
    inner = open_[:, 1:] & open_[:, :-1]
    curvature[:, 1:-1] = np.where(
        inner, 2.0 * np.diff(slope, axis=1) / np.where(inner, width[:, 1:] + width[:, :-1], 1.0),
        0.0)
    return curvature


def _excess_error(index, log_density, count) -> np.ndarray:
    """Estimated quadrature error of each interval over its share, ``(r, K - 1)``.

    Zero for intervals that cannot be split (one fine step wide).

    The rule is exact where log g is linear; its error on an interval of width
    h is about ``mass * h^2 |(log g)''| / 12``, with the curvature estimated by
    second divided differences of log g at the interval's ends.
    """
    log_density = log_density - log_density.max(axis=1, keepdims=True)
    width = np.diff(index, axis=1).astype(np.float64)
    curvature = np.abs(_log_curvature(index, log_density))
    bend = np.maximum(curvature[:, 1:], curvature[:, :-1])
    density = np.exp(log_density)
    mass = 0.5 * (density[:, 1:] + density[:, :-1]) * width  # good enough for a criterion
    error = mass * width**2 * bend / 12.0
    allowed = TOLERANCE * mass.sum(axis=1) / count
    return np.where(width >= 2, error / np.maximum(allowed[:, None], 1e-300), 0.0)


def _exponential_fraction(rise: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Share of an interval's mass below ``fraction`` of its width, log density linear.

    ``rise`` is the change of log g across the interval; the share is
    ``expm1(rise * s) / expm1(rise)``, written so that it cannot overflow.
    """
    flat = np.abs(rise) < 1e-9
    u = np.where(flat, -1.0, rise)
    # Each form is exact on its own side; the other side's overflow (inf / inf) is discarded.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        falling = np.expm1(u * fraction) / np.expm1(u)
        rising = (np.exp(u * (fraction - 1.0)) - np.exp(-u)) / -np.expm1(-u)
    return np.where(flat, fraction, np.where(u < 0, falling, rising))


def _exponential_fraction_inverse(rise: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_exponential_fraction` in its second argument."""
    flat = np.abs(rise) < 1e-9
    u = np.where(flat, -1.0, rise)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        falling = np.log1p(share * np.expm1(u)) / u
        rising = 1.0 + np.log(share * -np.expm1(-u) + np.exp(-u)) / u
    return np.clip(np.where(flat, share, np.where(u < 0, falling, rising)), 0.0, 1.0)


def _exponential_moments(rise, left, right):
    """Integrals over t in [0, 1] of ``(1, t, t^2) * left * exp(rise * t)``.

    ``right = left * exp(rise)``; the closed forms are used where ``|rise|`` is
    large and Taylor series where it is small (they cancel badly there).
    """
    small = np.abs(rise) < 0.1
    u = np.where(small, 1.0, rise)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        closed = ((right - left) / u,
                  (right * (u - 1.0) + left) / u**2,
                  (right * (u * u - 2.0 * u + 2.0) - 2.0 * left) / u**3)
    v = np.where(small, rise, 0.0)
    series = (1.0 + v * (1 / 2 + v * (1 / 6 + v * (1 / 24 + v / 120))),
              1 / 2 + v * (1 / 3 + v * (1 / 8 + v * (1 / 30 + v / 144))),
              1 / 3 + v * (1 / 4 + v * (1 / 10 + v * (1 / 36 + v / 168))))
    return tuple(np.where(small, left * s, c) for s, c in zip(series, closed))


def _rank_within_runs(labels: np.ndarray) -> np.ndarray:
    """For sorted labels, the position of each entry within its run of equal labels."""
    starts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1]
    run = np.repeat(starts, np.diff(np.r_[starts, len(labels)]))
    return np.arange(len(labels)) - run


def _searchsorted_rows(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row-wise ``searchsorted`` (left) clipped to ``[1, K - 1]``, for offset rows.

    ``sorted_rows (r, K)`` and ``values (r, k)`` must already be offset per row
    so that rows do not overlap; one flat search then serves every row.
    """
    width = sorted_rows.shape[1]
    flat = np.searchsorted(sorted_rows.ravel(), values.ravel()).reshape(values.shape)
    return np.clip(flat - width * np.arange(len(values))[:, None], 1, width - 1)
