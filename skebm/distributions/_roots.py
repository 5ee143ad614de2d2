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
_CDF_RTOL = 1e-8
_ULPS = 4
_BRACKET_POINTS = 65

RowCdf = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``cdf(rows, values)``: the CDF of problems ``rows (r,)`` at ``values (r, k)``, ``(r, k)``."""


def invert_cdf(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray,
               high: np.ndarray) -> np.ndarray:
    """Solve ``cdf(y) = p`` for one or several probabilities per row, inside a known bracket.

    The bracket is first narrowed on an evenly spaced grid of 65 points per
    row (one CDF call on many points per row costs about as much as on one
    when the work is per row), then refined by regula falsi with the Illinois
    modification until ``|cdf(y) - p| <= min(1e-10, 1e-8 min(p, 1 - p))``
    (relative in the tails, so that a tail quantile is as accurate as a
    central one) or the bracket is narrower than 1e-12 of its initial width
    (or than four floating-point spacings at its ends: the tolerance is
    relative to the spread, not to ``|y|``, so a distribution far from 0 is
    solved as accurately as one near it).

    Parameters
    ----------
    cdf : callable
        ``cdf(rows, values)`` with ``rows`` integer indices into the rows
        and ``values (len(rows), k)``; returns the CDF values ``(len(rows), k)``.
        It must be non-decreasing in ``values``.
    probabilities : ndarray of shape (n,) or (n, k)
        The target probabilities, one or ``k`` per row.
    low, high : ndarray of shape (n,)
        Ends with ``cdf(low) <= p <= cdf(high)`` for every probability of the
        row, e.g. the smallest and the largest quantile of a mixture's members.

    Returns
    -------
    ndarray
        The roots, of the shape of ``probabilities``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    targets = probabilities[:, None] if probabilities.ndim == 1 else probabilities
    low, high = np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)
    roots = np.repeat(low[:, None], targets.shape[1], axis=1)
    resolution = _ULPS * np.spacing(np.maximum(np.abs(low), np.abs(high)))
    todo = np.flatnonzero(high - low > resolution)
    if todo.size and targets.shape[1]:
        tolerance = np.maximum(_RTOL * (high - low), resolution)[todo]

        def sub_cdf(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
            return cdf(todo[rows], values)

        bracket = _narrow_bracket(sub_cdf, targets[todo], low[todo], high[todo])
        roots[todo] = _illinois(sub_cdf, targets[todo], *bracket, tolerance)
    return roots[:, 0] if probabilities.ndim == 1 else roots


def _narrow_bracket(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray,
                    high: np.ndarray) -> tuple[np.ndarray, ...]:
    """The cells of an evenly spaced grid on each row's ``[low, high]`` where ``cdf = p``.

    Returns each problem's cell ends and ``cdf - p`` there (``<= 0`` and
    ``>= 0``), all of the shape ``(n, k)`` of ``probabilities``.
    """
    steps = np.linspace(0.0, 1.0, _BRACKET_POINTS)
    grid = low[:, None] + (high - low)[:, None] * steps  # (n, G)
    rows = np.arange(len(low))
    values = np.maximum.accumulate(np.clip(cdf(rows, grid), 0.0, 1.0), axis=1)
    # The cell of p: the number of inner grid points whose CDF lies below p
    # (the caller's ends bracket the root; rounding must not say otherwise).
    inner = values[:, 1:-1] + 2.0 * rows[:, None]
    found = np.searchsorted(inner.ravel(), (probabilities + 2.0 * rows[:, None]).ravel())
    cell = found.reshape(probabilities.shape) - (_BRACKET_POINTS - 2) * rows[:, None]
    cell = np.clip(cell, 0, _BRACKET_POINTS - 2)
    at = rows[:, None]
    f_low = values[at, cell] - probabilities
    f_high = values[at, cell + 1] - probabilities
    f_low = np.where(cell == 0, np.minimum(f_low, 0.0), f_low)
    f_high = np.where(cell == _BRACKET_POINTS - 2, np.maximum(f_high, 0.0), f_high)
    return grid[at, cell], grid[at, cell + 1], f_low, f_high


def _illinois(cdf: RowCdf, probabilities: np.ndarray, low: np.ndarray, high: np.ndarray,
              f_low: np.ndarray, f_high: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Roots ``(n, k)`` of ``cdf(y) = p`` in ``[low, high]``, where ``f = cdf - p`` changes sign.

    Stops per problem when ``|f|`` is below the CDF tolerance of
    :func:`invert_cdf` or the bracket is at most its row's ``tolerance``
    wide. Regula falsi with the Illinois modification (the retained end's
    value is halved when the same end is kept twice), falling back to
    bisection when the interpolated point is not strictly inside the bracket.
    """
    roots = 0.5 * (low + high)
    cdf_tolerance = np.minimum(_CDF_ATOL,
                               _CDF_RTOL * np.minimum(probabilities, 1.0 - probabilities))
    done = np.zeros(probabilities.shape, dtype=bool)
    side = np.zeros(probabilities.shape, dtype=int)  # end kept last: -1 low, +1 high
    active = np.arange(len(probabilities))  # rows with a problem left
    for _ in range(_MAX_ITER):
        lo, hi, flo, fhi = low[active], high[active], f_low[active], f_high[active]
        open_ = ~done[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            guess = hi - fhi * (hi - lo) / (fhi - flo)
        inside = np.isfinite(guess) & (guess > lo) & (guess < hi)
        guess = np.where(open_, np.where(inside, guess, 0.5 * (lo + hi)), roots[active])
        value = cdf(active, guess) - probabilities[active]
        roots[active] = guess
        below = open_ & (value < 0.0)  # the root lies above the guess: it becomes the low end
        above = open_ & ~below
        kept = side[active]
        low[active] = np.where(below, guess, lo)
        high[active] = np.where(above, guess, hi)
        f_low[active] = np.where(below, value, np.where(above & (kept == 1), 0.5 * flo, flo))
        f_high[active] = np.where(above, value, np.where(below & (kept == -1), 0.5 * fhi, fhi))
        side[active] = np.where(below, -1, np.where(above, 1, kept))
        width = high[active] - low[active]
        done[active] |= ((np.abs(value) <= cdf_tolerance[active])
                         | (width <= tolerance[active, None]))
        active = active[~np.all(done[active], axis=1)]
        if active.size == 0:
            break
    return roots
