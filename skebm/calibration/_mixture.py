"""The equal-weight mixture of several batches of 1-D distributions (the recalibrated folds)."""

from __future__ import annotations

import numpy as np

from skebm.distributions import ConditionalDistribution

__all__ = ["EqualMixtureDistribution"]

_PPF_MAX_ITER = 100
_PPF_RTOL = 1e-12
_CDF_ATOL = 1e-10
_BRACKET_POINTS = 65


class EqualMixtureDistribution(ConditionalDistribution):
    """The equal-weight mixture ``(1/K) sum_k P_k`` of ``K`` batches of 1-D distributions.

    Returned by :meth:`RecalibratedRegressor.predict_dist` with
    ``ensemble=True``, where ``P_k`` is the ``k``-th fold model's distribution
    recalibrated by that fold's own map, so that
    ``cdf(y) = mean_k R_k(F_k(y))`` and
    ``pdf(y) = mean_k R_k'(F_k(y)) f_k(y)``. Everything is exact given the
    members:

    * ``cdf`` and ``logpdf`` average the members' CDFs and densities;
    * ``ppf`` solves ``cdf(y) = p`` between the smallest and largest member
      quantile, which bracket the answer: the bracket is first narrowed on a
      grid of 65 points, then refined by regula falsi (Illinois) until
      ``|cdf(y) - p| <= 1e-10`` or it is narrower than 1e-12 of its ends;
    * ``mean`` and ``var`` follow from the members' by the law of total
      variance; ``sample`` picks a member at random for each draw.

    Parameters
    ----------
    members : sequence of ConditionalDistribution
        ``K >= 1`` batches of the same number of rows, each with a 1-D target.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.calibration import EqualMixtureDistribution
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> def normal(mean):
    ...     return GaussianMixtureDistribution(np.zeros((1, 1)), np.full((1, 1, 1), mean),
    ...                                        np.ones((1, 1, 1)))
    >>> mixture = EqualMixtureDistribution([normal(-1.0), normal(1.0)])
    >>> mixture.cdf([0.0]), mixture.mean(), mixture.var()
    (array([0.5]), array([0.]), array([2.]))
    >>> abs(mixture.ppf(0.5)) < 1e-6
    array([ True])
    """

    def __init__(self, members) -> None:
        members = list(members)
        if not members:
            raise ValueError("An EqualMixtureDistribution needs at least one member.")
        for member in members:
            if not isinstance(member, ConditionalDistribution):
                raise TypeError(f"members must be ConditionalDistributions, got "
                                f"{type(member).__name__}.")
            if member.target_dim != 1:
                raise ValueError("Only distributions of 1-D targets can be mixed here.")
            if member.n_rows != members[0].n_rows:
                raise ValueError("Every member must hold the same number of rows.")
        super().__init__(members[0].n_rows, 1)
        self.members = members

    def _take(self, rows: np.ndarray) -> EqualMixtureDistribution:
        return EqualMixtureDistribution([member._take(rows) for member in self.members])

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        return np.mean([np.clip(m._cdf_points(points), 0.0, 1.0) for m in self.members], axis=0)

    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        log_densities = np.array([member._logpdf_points(points) for member in self.members])
        top = np.max(log_densities, axis=0)
        top[~np.isfinite(top)] = 0.0
        with np.errstate(divide="ignore"):
            return top + np.log(np.mean(np.exp(log_densities - top), axis=0))

    def mean(self) -> np.ndarray:
        """Mean of each mixture: the average of the members' means.

        Returns
        -------
        ndarray of shape (n,)
            One mean per row.
        """
        return np.mean([member.mean() for member in self.members], axis=0)

    def var(self) -> np.ndarray:
        """Variance of each mixture, by the law of total variance.

        Returns
        -------
        ndarray of shape (n,)
            One variance per row.
        """
        means = np.array([member.mean() for member in self.members])
        variances = np.array([member.var() for member in self.members])
        return np.mean(variances, axis=0) + np.var(means, axis=0)

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        chosen = rng.integers(len(self.members), size=(self.n_rows, n_samples))
        out = np.empty((self.n_rows, n_samples, 1))
        for k, member in enumerate(self.members):
            draws = member._sample(n_samples, rng)
            out[chosen == k] = draws[chosen == k]
        return out

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        member_quantiles = np.array([member._ppf(probabilities)[:, 0] for member in self.members])
        low, high = member_quantiles.min(axis=0), member_quantiles.max(axis=0)  # (n,) each
        roots = low.copy()
        todo = np.flatnonzero(high - low > _PPF_RTOL * (np.abs(low) + np.abs(high)))
        if todo.size == 0:
            return roots[:, None]
        batch = self._take(todo)
        bracket = _narrow_bracket(batch, probabilities[todo], low[todo], high[todo])
        roots[todo] = _illinois(batch, probabilities[todo], *bracket)
        return roots[:, None]


def _narrow_bracket(batch: EqualMixtureDistribution, probabilities: np.ndarray,
                    low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
    """The cell of an evenly spaced grid on ``[low, high]`` in which ``cdf = p`` is crossed.

    Returns the cell's ends and ``cdf - p`` there (``<= 0`` and ``>= 0``).

    One CDF call on ``_BRACKET_POINTS`` points per row costs about as much as
    on one point (the members' work is per row), and saves most iterations.
    """
    steps = np.linspace(0.0, 1.0, _BRACKET_POINTS)
    grid = low[:, None] + (high - low)[:, None] * steps  # (n, G)
    residual = batch._cdf_points(grid[:, :, None]) - probabilities[:, None]
    # The member quantiles bracket the root; rounding must not say otherwise.
    residual[:, 0] = np.minimum(residual[:, 0], 0.0)
    residual[:, -1] = np.maximum(residual[:, -1], 0.0)
    cell = np.argmax(residual >= 0.0, axis=1) - 1  # the first point at or above p ends the cell
    cell = np.clip(cell, 0, _BRACKET_POINTS - 2)
    rows = np.arange(len(low))
    return (grid[rows, cell], grid[rows, cell + 1],
            residual[rows, cell], residual[rows, cell + 1])


def _illinois(batch: EqualMixtureDistribution, probabilities: np.ndarray, low: np.ndarray,
              high: np.ndarray, f_low: np.ndarray, f_high: np.ndarray) -> np.ndarray:
    """Roots of ``batch.cdf(y) = p`` in ``[low, high]``, where ``f = cdf - p`` changes sign.

    Regula falsi with the Illinois modification (the retained end's value is
    halved when the same end is kept twice), falling back to bisection when
    the interpolated point is not strictly inside the bracket.
    """
    roots = 0.5 * (low + high)
    active = np.arange(len(probabilities))
    side = np.zeros(len(probabilities), dtype=int)  # which end was kept last: -1 low, +1 high
    for _ in range(_PPF_MAX_ITER):
        lo, hi, flo, fhi = low[active], high[active], f_low[active], f_high[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            guess = hi - fhi * (hi - lo) / (fhi - flo)
        inside = np.isfinite(guess) & (guess > lo) & (guess < hi)
        guess = np.where(inside, guess, 0.5 * (lo + hi))
        value = batch._take(active)._cdf_points(guess[:, None, None])[:, 0] - probabilities[active]
        roots[active] = guess
        below = value < 0.0  # the root lies above the guess: it becomes the low end
        low[active] = np.where(below, guess, lo)
        high[active] = np.where(below, hi, guess)
        f_low[active] = np.where(below, value, np.where(side[active] == 1, 0.5 * flo, flo))
        f_high[active] = np.where(below, np.where(side[active] == -1, 0.5 * fhi, fhi), value)
        side[active] = np.where(below, -1, 1)  # -1: the low end moved, the high end was kept
        width = high[active] - low[active]
        done = ((np.abs(value) <= _CDF_ATOL)
                | (width <= _PPF_RTOL * (np.abs(low[active]) + np.abs(high[active]))))
        active = active[~done]
        if active.size == 0:
            break
    return roots
