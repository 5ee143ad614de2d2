"""Integer targets: dequantisation, the randomised PIT, and the map fitted to PIT intervals.

A model of integer targets ``k`` (ratings, counts) is fitted on dequantised
targets ``k + U(-1/2, 1/2)``, so its continuous CDF ``F`` gives the
probability of each integer as ``F(k + 1/2) - F(k - 1/2)``. Those
probabilities are calibrated when the randomised PIT
``F(k - 1/2) + V (F(k + 1/2) - F(k - 1/2))``, ``V ~ U(0, 1)``, is uniform
(Czado, Gneiting and Held, Biometrics 2009).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["dequantise", "integer_values", "interval_log_probability", "pit_intervals",
           "randomised_pit"]

# Widths below this are treated as a point mass of the PIT at its lower end.
_POINT_WIDTH = 1e-12
# The fixed-point iteration of the interval map: at most this many steps,
# stopping when no knot moves by more than the tolerance.
_MAX_ITERATIONS = 200
_TOLERANCE = 1e-9
# Probabilities of an integer below this are integrated from the density: as a
# difference of two CDF values near 1 they keep only ~1e-16 absolutely, and far
# out in either tail both values round to 0 or 1.
_SMALL_MASS = 1e-10
_TAIL_PIECES = 64


def integer_values(y: np.ndarray, name: str = "y") -> np.ndarray:
    """``y`` (float64) if every value is an integer, else a ValueError naming one that is not."""
    values = np.asarray(y, dtype=np.float64)
    fractional = values != np.rint(values)
    if np.any(fractional):
        example = float(values[fractional].flat[0])
        raise ValueError(
            f"discrete=True needs integer targets (counts, ratings), but {name} holds "
            f"non-integer values such as {example!r}. Round them, or use discrete=False "
            "for continuous targets."
        )
    return values


def dequantise(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dequantised targets ``y + U(-1/2, 1/2)`` and the uniforms ``V`` of the randomised PIT.

    Both come from ``np.random.default_rng(seed)``: first ``n`` draws of
    ``uniform(-0.5, 0.5)``, then ``n`` of ``random()``.
    """
    rng = np.random.default_rng(seed)
    noisy = y + rng.uniform(-0.5, 0.5, size=y.shape)
    return noisy, rng.random(size=y.shape)


def pit_intervals(dist, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``F(y - 1/2)`` and ``F(y + 1/2)``, each ``(n,)``, for a batch of 1-D distributions."""
    bounds = dist.cdf(y[:, None] + np.array([-0.5, 0.5]))  # (n, 2)
    return bounds[:, 0], np.maximum(bounds[:, 1], bounds[:, 0])


def interval_log_probability(dist, y: np.ndarray) -> np.ndarray:
    """``log P(y - 1/2 < Y <= y + 1/2)``, ``(n,)``, for a batch of 1-D distributions.

    It is ``log (F(y + 1/2) - F(y - 1/2))`` where that difference is at
    least 1e-10. Below, it is not: in the upper tail both CDF values are close
    to 1 and their difference keeps only ~1e-16 of absolute precision, and
    far out in either tail both round to 1 or to 0, although the density is
    positive. There the density is integrated over the unit interval
    instead: its log is taken at 65 evenly spaced points and interpolated
    linearly between them (exact for exponential tails, and never
    overshooting however steep the density is), the pieces summed in log
    space.
    """
    lower, upper = pit_intervals(dist, y)
    mass = upper - lower
    log_probability = np.log(np.where(mass > 0.0, mass, np.finfo(np.float64).tiny))
    tail = np.flatnonzero(mass < _SMALL_MASS)
    if tail.size:
        offsets = np.linspace(-0.5, 0.5, _TAIL_PIECES + 1)
        log_density = dist[tail].logpdf(y[tail, None] + offsets)  # (t, pieces + 1)
        log_probability[tail] = _log_integral_of_log_linear(log_density, 1.0 / _TAIL_PIECES)
    return log_probability


def _log_integral_of_log_linear(log_values: np.ndarray, step: float) -> np.ndarray:
    """``log`` of the integral, per row, of ``exp`` of the linear interpolation of ``log_values``.

    A piece from ``l0`` to ``l1 = l0 + d`` of width ``h`` integrates to
    ``h exp(l0) (exp(d) - 1) / d``; a piece with a zero density at one end
    (``-inf``) is taken as a trapezoid.
    """
    start, end = log_values[:, :-1], log_values[:, 1:]
    with np.errstate(invalid="ignore"):
        rise = end - start
    finite = np.isfinite(rise)
    d = np.where(finite, rise, 0.0)
    small = np.abs(d) < 1e-8
    safe = np.where(small, 1.0, np.abs(d))
    # log((exp(d) - 1) / d), stable for either sign and any size of d.
    log_factor = np.where(
        small, 0.5 * d,
        np.where(d > 0, d + np.log(-np.expm1(-safe)), np.log(-np.expm1(-safe))) - np.log(safe))
    trapezoid = np.logaddexp(start, end) - np.log(2.0)
    pieces = np.log(step) + np.where(finite, start + log_factor, trapezoid)
    return logsumexp(pieces, axis=1)


def randomised_pit(lower: np.ndarray, upper: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """``lower + V (upper - lower)``: a uniform draw from each PIT interval."""
    return lower + uniforms * (upper - lower)


def interval_quantiles(lower: np.ndarray, upper: np.ndarray, n_knots: int,
                       identity_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Levels ``l_j`` and knots of the map whose randomised PIT is uniform at those levels.

    The map ``R`` must make the recalibrated intervals ``[R(a_i), R(b_i)]``
    (``a_i``, ``b_i`` the PIT intervals) spread uniformly: the mean of the
    uniform CDFs on them, ``G(u)``, should equal ``u`` at every level. With
    ``R`` tabulated as in :class:`CalibrationMap` (``R^{-1}(l_j) = (1 - eps)
    q_j + eps l_j``), this iterates ``q_j <- R^{-1}(G^{-1}(l_j))`` from the
    identity; for point intervals ``G^{-1}(l_j) = R(Q(l_j))`` and the
    iteration stops at the PIT quantiles ``Q(l_j)``, the continuous map.
    """
    levels = _levels(n_knots)
    order = np.argsort(np.concatenate([lower, upper]), kind="stable")  # kept by monotone maps
    quantiles = levels.copy()
    for _ in range(_MAX_ITERATIONS):
        knots = (1.0 - identity_share) * quantiles + identity_share * levels
        mapped_lower = np.interp(lower, knots, levels)
        mapped_upper = np.interp(upper, knots, levels)
        spread = _spread_quantiles(mapped_lower, mapped_upper, order, levels)
        updated = np.interp(spread, levels, knots)
        updated[0], updated[-1] = 0.0, 1.0
        updated = np.maximum.accumulate(updated)
        moved = np.max(np.abs(updated - quantiles))
        quantiles = updated
        if moved < _TOLERANCE:
            break
    return levels, (1.0 - identity_share) * quantiles + identity_share * levels


def _levels(n_knots: int) -> np.ndarray:
    """``l_j = (1 - cos(pi j / n_knots)) / 2``: denser near 0 and 1."""
    levels = 0.5 * (1.0 - np.cos(np.pi * np.arange(n_knots + 1) / n_knots))
    levels[0], levels[-1] = 0.0, 1.0
    return levels


def _spread_quantiles(lower: np.ndarray, upper: np.ndarray, order: np.ndarray,
                      levels: np.ndarray) -> np.ndarray:
    """Quantiles at ``levels`` of ``G``, the mean of the uniform CDFs on ``[lower_i, upper_i]``.

    ``G`` is piecewise linear between the sorted ends (a point interval adds a
    step of ``1 / n``); it is evaluated just left and right of every end and
    inverted by interpolation. ``order`` sorts ``concat(lower, upper)``.
    """
    n = len(lower)
    widths = upper - lower
    point = widths <= _POINT_WIDTH
    inverse_width = np.where(point, 0.0, 1.0 / np.where(point, 1.0, widths)) / n
    ends = np.concatenate([lower, upper])[order]
    slope_change = np.concatenate([inverse_width, -inverse_width])[order]
    jump = np.concatenate([np.where(point, 1.0 / n, 0.0), np.zeros(n)])[order]
    slope = np.cumsum(slope_change)  # slope of G right of each end
    left = np.concatenate([[0.0], np.cumsum(jump[:-1] + slope[:-1] * np.diff(ends))])
    right = left + jump
    positions = np.concatenate([[0.0], np.repeat(ends, 2), [1.0]])
    values = np.concatenate([[0.0], np.stack([left, right], axis=1).reshape(-1), [1.0]])
    return np.interp(levels, np.maximum.accumulate(values), positions)
