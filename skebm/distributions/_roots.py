"""Quantiles of 1-D distributions whose CDF is known but has no closed-form inverse.

Used where a quantile of a mixture of distributions is needed: the mixture's
CDF is the weighted sum of its members' CDFs, and the quantile lies between
the smallest and the largest member quantile.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["invert_cdf"]

_MAX_ITER = 100
_RTOL = 1e-12
_CDF_ATOL = 1e-10
_ULPS = 4
_BRACKET_POINTS = 65

RowCdf = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``cdf(rows, values)``: the CDF of problems ``rows (r,)`` at ``values (r, k)``, ``(r, k)``."""


def invert_cdf(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray,
               high: np.ndarray) -> np.ndarray:
    """Solve ``cdf(y) = p`` for one probability per problem, inside a known bracket.

    The bracket is first narrowed on an evenly spaced grid of 65 points (one
    CDF call on many points per problem costs about as much as on one when the
    work is per problem), then refined by regula falsi with the Illinois
    modification until ``|cdf(y) - p| <= 1e-10`` or the bracket is narrower
    than 1e-12 of its initial width (or than four floating-point spacings at
    its ends: the tolerance is relative to the spread, not to ``|y|``, so a
    distribution far from 0 is solved as accurately as one near it).

    Parameters
    ----------
    cdf : callable
        ``cdf(rows, values)`` with ``rows`` integer indices into the problems
        and ``values (len(rows), k)``; returns the CDF values ``(len(rows), k)``.
        It must be non-decreasing in ``values``.
    probabilities : ndarray of shape (n,)
        The target probabilities.
    low, high : ndarray of shape (n,)
        Ends with ``cdf(low) <= p <= cdf(high)``, e.g. the smallest and the
        largest quantile of a mixture's members.

    Returns
    -------
    ndarray of shape (n,)
        The roots.
    """
    low, high = np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)
    roots = low.copy()
    resolution = _ULPS * np.spacing(np.maximum(np.abs(low), np.abs(high)))
    todo = np.flatnonzero(high - low > resolution)
    if todo.size == 0:
        return roots
    tolerance = np.maximum(_RTOL * (high - low), resolution)[todo]

    def sub_cdf(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        return cdf(todo[rows], values)

    bracket = _narrow_bracket(sub_cdf, probabilities[todo], low[todo], high[todo])
    roots[todo] = _illinois(sub_cdf, probabilities[todo], *bracket, tolerance)
    return roots


def _narrow_bracket(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray,
                    high: np.ndarray) -> tuple[np.ndarray, ...]:
    """The cell of an evenly spaced grid on ``[low, high]`` in which ``cdf = p`` is crossed.

    Returns the cell's ends and ``cdf - p`` there (``<= 0`` and ``>= 0``).
    """
    steps = np.linspace(0.0, 1.0, _BRACKET_POINTS)
    grid = low[:, None] + (high - low)[:, None] * steps  # (n, G)
    rows = np.arange(len(low))
    residual = cdf(rows, grid) - probabilities[:, None]
    # The caller's ends bracket the root; rounding must not say otherwise.
    residual[:, 0] = np.minimum(residual[:, 0], 0.0)
    residual[:, -1] = np.maximum(residual[:, -1], 0.0)
    cell = np.argmax(residual >= 0.0, axis=1) - 1  # the first point at or above p ends the cell
    cell = np.clip(cell, 0, _BRACKET_POINTS - 2)
    return (grid[rows, cell], grid[rows, cell + 1],
            residual[rows, cell], residual[rows, cell + 1])


def _illinois(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray, high: np.ndarray,
              f_low: np.ndarray, f_high: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Roots of ``cdf(y) = p`` in ``[low, high]``, where ``f = cdf - p`` changes sign.

    Stops per problem when ``|f| <= 1e-10`` or the bracket is at most
    ``tolerance`` wide.
    Regula falsi with the Illinois modification (the retained end's value is
    halved when the same end is kept twice), falling back to bisection when
    the interpolated point is not strictly inside the bracket.
    """
    roots = 0.5 * (low + high)
    active = np.arange(len(probabilities))
    side = np.zeros(len(probabilities), dtype=int)  # which end was kept last: -1 low, +1 high
    for _ in range(_MAX_ITER):
        lo, hi, flo, fhi = low[active], high[active], f_low[active], f_high[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            guess = hi - fhi * (hi - lo) / (fhi - flo)
        inside = np.isfinite(guess) & (guess > lo) & (guess < hi)
        guess = np.where(inside, guess, 0.5 * (lo + hi))
        value = cdf(active, guess[:, None])[:, 0] - probabilities[active]
        roots[active] = guess
        below = value < 0.0  # the root lies above the guess: it becomes the low end
        low[active] = np.where(below, guess, lo)
        high[active] = np.where(below, hi, guess)
        f_low[active] = np.where(below, value, np.where(side[active] == 1, 0.5 * flo, flo))
        f_high[active] = np.where(below, np.where(side[active] == -1, 0.5 * fhi, fhi), value)
        side[active] = np.where(below, -1, 1)  # -1: the low end moved, the high end was kept
        width = high[active] - low[active]
        done = (np.abs(value) <= _CDF_ATOL) | (width <= tolerance[active])
        active = active[~done]
        if active.size == 0:
            break
    return roots
