"""A batch of diagonal-covariance Gaussian mixtures, one per input row."""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp, ndtr, ndtri

from skebm._validation import as_float_array
from skebm.distributions._base import ConditionalDistribution

__all__ = ["GaussianMixtureDistribution"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_PPF_MAX_ITER = 100
_BLOCK_ELEMENTS = 2**18
_PPF_RTOL = 1e-13
_MODE_MAX_ITER = 1000
_MODE_RTOL = 1e-9


class GaussianMixtureDistribution(ConditionalDistribution):
    """A batch of ``n`` Gaussian mixtures with diagonal covariances.

    Row ``i`` is the density
    ``p_i(y) = sum_k pi_ik N(y; mu_ik, diag(sigma_ik ** 2))`` over ``y`` in R^d.
    Log density, joint CDF and moments are exact and in closed form; marginal
    quantiles are solved numerically to about 1e-12 relative accuracy, and the
    mode by a fixed-point search from every component mean.

    Parameters
    ----------
    log_weights : array-like of shape (n, K)
        Log mixture weights. They are renormalised per row, so unnormalised
        log weights (e.g. logits) are accepted; ``-inf`` switches a component
        off, but every row needs at least one finite entry.
    means : array-like of shape (n, K, d)
        Component means.
    stds : array-like of shape (n, K, d)
        Component standard deviations, strictly positive.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> dist = GaussianMixtureDistribution(
    ...     log_weights=np.log([[0.5, 0.5]]),
    ...     means=np.array([[[-1.0], [1.0]]]),
    ...     stds=np.ones((1, 2, 1)),
    ... )
    >>> dist.mean(), dist.var()
    (array([0.]), array([2.]))
    >>> dist.cdf([0.0]).round(6)
    array([0.5])
    >>> dist.sample(3, random_state=0).shape
    (1, 3)
    """

    def __init__(self, log_weights, means, stds) -> None:
        log_weights = as_float_array(log_weights, "log_weights", copy=True)
        means = as_float_array(means, "means", copy=True)
        stds = as_float_array(stds, "stds", copy=True)
        if log_weights.ndim != 2:
            raise ValueError(f"log_weights must have shape (n, K), got {log_weights.shape}.")
        if means.ndim != 3 or stds.ndim != 3:
            raise ValueError(
                f"means and stds must have shape (n, K, d), got {means.shape} and {stds.shape}."
            )
        if means.shape != stds.shape or means.shape[:2] != log_weights.shape:
            raise ValueError(
                "Shapes do not match: log_weights (n, K), means and stds (n, K, d) "
                f"expected, got {log_weights.shape}, {means.shape} and {stds.shape}."
            )
        n_rows, n_components, target_dim = means.shape
        if n_components < 1 or target_dim < 1:
            raise ValueError("A mixture needs at least one component and one target dimension.")
        if np.any(np.isnan(log_weights)) or np.any(log_weights == np.inf):
            raise ValueError("log_weights contains NaN or +inf.")
        if np.any(np.all(log_weights == -np.inf, axis=1)):
            raise ValueError("Every row of log_weights needs at least one finite entry.")
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(stds))):
            raise ValueError("means and stds must be finite.")
        if np.any(stds <= 0.0):
            raise ValueError("stds must be strictly positive.")
        super().__init__(n_rows, target_dim)
        self._log_weights = _read_only(log_weights - logsumexp(log_weights, axis=1, keepdims=True))
        self._means = _read_only(means)
        self._stds = _read_only(stds)

    # ----------------------------------------------------------- parameters
    @property
    def n_components(self) -> int:
        """Number of mixture components ``K``."""
        return self._means.shape[1]

    @property
    def log_weights(self) -> np.ndarray:
        """Normalised log mixture weights, ``(n, K)`` (read-only)."""
        return self._log_weights

    @property
    def weights(self) -> np.ndarray:
        """Mixture weights, ``(n, K)``; each row sums to one."""
        return _read_only(np.exp(self._log_weights))

    @property
    def means(self) -> np.ndarray:
        """Component means, ``(n, K, d)`` (read-only)."""
        return self._means

    @property
    def stds(self) -> np.ndarray:
        """Component standard deviations, ``(n, K, d)`` (read-only)."""
        return self._stds

    # --------------------------------------------------------------- moments
    def mean(self) -> np.ndarray:
        """Mean of each mixture.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._mean())

    def var(self) -> np.ndarray:
        """Marginal variance, within- plus between-component.

        ``inf`` where the variance exceeds the float64 range (standard
        deviations above about 1e154); :meth:`std` stays finite there.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        with np.errstate(over="ignore"):
            return self._squeeze_target(np.square(self._std()))

    def std(self) -> np.ndarray:
        """Marginal standard deviation; finite for any finite mixture.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self._squeeze_target(self._std())

    def _std(self) -> np.ndarray:
        weights = np.exp(self._log_weights)[:, :, None]  # (n, K, 1)
        spread = self._means - self._mean()[:, None, :]  # (n, K, d)
        # Squares of values near 1e154 overflow: square them relative to the largest.
        peak = np.maximum(np.max(self._stds, axis=1), np.max(np.abs(spread), axis=1))  # (n, d)
        peak = np.where(peak > 0.0, peak, 1.0)[:, None, :]
        relative = np.sum(weights * ((self._stds / peak) ** 2 + (spread / peak) ** 2), axis=1)
        return np.sqrt(relative) * peak[:, 0, :]

    def _mean(self) -> np.ndarray:
        weights = np.exp(self._log_weights)[:, :, None]
        return np.sum(weights * self._means, axis=1)  # (n, d)

    def mode(self) -> np.ndarray:
        """Most likely point of each mixture.

        Runs the fixed-point (mean-shift) iteration for Gaussian mixtures,
        ``y <- (sum_k r_k(y) / sigma_k^2) ** -1 * sum_k r_k(y) mu_k / sigma_k^2``
        per dimension with ``r_k(y)`` the component responsibilities, from every
        component mean, and returns the stationary point of highest density.
        This finds the global mode unless it attracts none of the K starts,
        which needs strongly overlapping components of very unequal widths.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        n, n_components, d = self._means.shape
        modes = np.empty((n, d))
        for rows in _row_blocks(n, n_components * n_components * d):
            candidates = self._mean_shift(rows)  # (rows, K, d)
            log_density = _logsumexp_last_axis(self._log_component_terms(candidates, rows))
            best = np.argmax(log_density, axis=1)
            modes[rows] = candidates[np.arange(len(candidates)), best]
        return self._squeeze_target(modes)

    def _mean_shift(self, rows: slice) -> np.ndarray:
        """Stationary points reached from each component mean of ``rows``, ``(r, K, d)``."""
        means, stds = self._means[rows], self._stds[rows]
        n_rows, n_components, d = means.shape
        precisions = stds**-2.0  # (r, K, d)
        weighted_means = precisions * means
        log_norm = self._log_weights[rows] - np.sum(np.log(stds), axis=2)  # (r, K)
        # One search per (row, start) pair; only unconverged ones are iterated.
        owner = np.repeat(np.arange(n_rows), n_components)
        tolerance = np.repeat(_MODE_RTOL * np.min(stds, axis=(1, 2)), n_components)
        points = means.reshape(n_rows * n_components, d).copy()
        todo = np.arange(points.shape[0])
        for _ in range(_MODE_MAX_ITER):
            if todo.size == 0:
                break
            row = owner[todo]
            z = (points[todo, None, :] - means[row]) / stds[row]  # (t, K, d)
            log_terms = log_norm[row] - 0.5 * np.sum(z * z, axis=2)  # (t, K)
            log_terms -= np.max(log_terms, axis=1, keepdims=True)
            responsibilities = np.exp(log_terms)[:, :, None]  # max 1 per search
            updated = (np.sum(responsibilities * weighted_means[row], axis=1)
                       / np.sum(responsibilities * precisions[row], axis=1))
            step = np.max(np.abs(updated - points[todo]), axis=1)
            points[todo] = updated
            todo = todo[step > tolerance[todo]]
        return points.reshape(n_rows, n_components, d)

    def _log_component_terms(self, points: np.ndarray, rows: slice) -> np.ndarray:
        """``log pi_k N(y; mu_k, sigma_k^2)`` up to a constant, ``(r, k, K)`` for ``(r, k, d)``."""
        z = self._standardise(points, rows)  # (r, k, K, d)
        log_norm = self._log_weights[rows] - np.sum(np.log(self._stds[rows]), axis=2)
        return log_norm[:, None, :] - 0.5 * np.sum(z * z, axis=3)

    # ----------------------------------------------------- abstract methods
    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        n, k, d = points.shape
        log_norm = self._log_weights - np.sum(np.log(self._stds), axis=2) - d * _LOG_SQRT_2PI
        out = np.empty((n, k))
        for rows in _row_blocks(n, k * self.n_components * d):
            z = self._standardise(points[rows], rows)  # (rows, k, K, d)
            with np.errstate(over="ignore"):  # far-away points: log density -inf, as it should
                z *= z
            log_terms = np.sum(z, axis=3) if d > 1 else z.reshape(z.shape[:3])
            log_terms *= -0.5
            log_terms += log_norm[rows, None, :]
            out[rows] = _logsumexp_last_axis(log_terms)
        return out

    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        # Positive terms, no cancellation: linear space keeps full relative
        # accuracy down to the smallest float, which is all exp(log cdf) could give.
        n, k, d = points.shape
        weights = np.exp(self._log_weights)
        out = np.empty((n, k))
        for rows in _row_blocks(n, k * self.n_components * d):
            z = self._standardise(points[rows], rows)  # (rows, k, K, d)
            out[rows] = np.sum(weights[rows, None, :] * np.prod(ndtr(z), axis=3), axis=2)
        return out

    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        n, n_components, d = self._means.shape
        # One scalar root-finding problem per (row, target dimension).
        means = self._means.transpose(0, 2, 1).reshape(n * d, n_components)
        stds = self._stds.transpose(0, 2, 1).reshape(n * d, n_components)
        log_weights = np.repeat(self._log_weights, d, axis=0)
        probabilities = np.repeat(probabilities, d)
        # Solve upper quantiles as lower quantiles of -Y: both tails stay accurate.
        upper = probabilities > 0.5
        tail = np.where(upper, 1.0 - probabilities, probabilities)
        sign = np.where(upper, -1.0, 1.0)
        roots = _mixture_lower_quantile(log_weights, sign[:, None] * means, stds, tail)
        return (sign * roots).reshape(n, d)

    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        # Per draw, one uniform picks the component and d more give its normal
        # noise (by the inverse normal CDF): a row's draws depend on its own stream only.
        d = self.target_dim
        uniforms = self._row_uniforms(rng, n_samples * (1 + d)).reshape(self.n_rows,
                                                                         n_samples, 1 + d)
        weights = np.exp(self._log_weights)
        cumulative = np.cumsum(weights, axis=1)
        picks = uniforms[:, :, 0] * cumulative[:, -1:]
        chosen = np.zeros((self.n_rows, n_samples), dtype=np.intp)
        for component in range(self.n_components - 1):
            chosen += picks >= cumulative[:, component, None]
        # Rounding must never pick a trailing zero-weight component.
        last_used = self.n_components - 1 - np.argmax(weights[:, ::-1] > 0.0, axis=1)
        chosen = np.minimum(chosen, last_used[:, None])[:, :, None]  # (n, n_samples, 1)
        means = np.take_along_axis(self._means, chosen, axis=1)
        stds = np.take_along_axis(self._stds, chosen, axis=1)
        return means + stds * ndtri(uniforms[:, :, 1:])

    def _quantiles(self, probabilities: np.ndarray) -> np.ndarray:
        n, k = probabilities.shape
        out = np.empty((n, k))
        for rows in _row_blocks(n, k * self.n_components):
            block = np.arange(n)[rows]
            repeated = np.repeat(block, k)
            out[rows] = self._take(repeated)._ppf(probabilities[rows].ravel()).reshape(-1, k)
        return out

    def _take(self, rows: np.ndarray) -> GaussianMixtureDistribution:
        return GaussianMixtureDistribution(
            self._log_weights[rows], self._means[rows], self._stds[rows]
        )

    # -------------------------------------------------------------- helpers
    def _standardise(self, points: np.ndarray, rows: slice) -> np.ndarray:
        """``(y - mu) / sigma`` of ``points[rows]`` ``(r, k, d)`` per component ``(r, k, K, d)``."""
        z = points[:, :, None, :] - self._means[rows, None]
        z /= self._stds[rows, None]
        return z


def _row_blocks(n_rows: int, elements_per_row: int):
    """Slices of rows whose ``(rows, k, K, d)`` temporaries stay cache-sized."""
    step = max(1, _BLOCK_ELEMENTS // max(1, elements_per_row))
    for start in range(0, n_rows, step):
        yield slice(start, start + step)


def _logsumexp_last_axis(values: np.ndarray) -> np.ndarray:
    """``log(sum(exp(values), axis=-1))`` without overflow; all ``-inf`` gives ``-inf``."""
    top = np.max(values, axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    shifted = np.exp(values - top)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(shifted, axis=-1)) + top[..., 0]


def _mixture_lower_quantile(
    log_weights: np.ndarray, means: np.ndarray, stds: np.ndarray, probabilities: np.ndarray
) -> np.ndarray:
    """Quantiles ``(m,)`` of ``m`` scalar mixtures at probabilities in (0, 0.5].

    Safeguarded Newton on ``log F(y) = log p``: a Newton step that leaves the
    current bracket, or is not half the previous step (oscillation), is replaced
    by bisection. The initial bracket is the smallest and largest component
    quantile, which always contains the answer.
    """
    active_weight = np.isfinite(log_weights)  # (m, K)
    component_quantiles = means + stds * ndtri(probabilities)[:, None]
    lower = np.min(np.where(active_weight, component_quantiles, np.inf), axis=1)
    upper = np.max(np.where(active_weight, component_quantiles, -np.inf), axis=1)
    guess = np.sum(np.exp(log_weights) * component_quantiles, axis=1)
    roots = np.clip(guess, lower, upper)
    atol = _PPF_RTOL * np.min(np.where(active_weight, stds, np.inf), axis=1)

    previous_step = upper - lower
    todo = np.flatnonzero(upper - lower > atol)
    target = np.log(probabilities)
    for _ in range(_PPF_MAX_ITER):
        if todo.size == 0:
            break
        x, lo, hi = roots[todo], lower[todo], upper[todo]
        z = (x[:, None] - means[todo]) / stds[todo]
        log_cdf = logsumexp(log_weights[todo] + log_ndtr(z), axis=1)
        log_pdf = logsumexp(log_weights[todo] - np.log(stds[todo]) - 0.5 * z**2, axis=1)
        log_pdf -= _LOG_SQRT_2PI
        residual = log_cdf - target[todo]
        lo = np.where(residual < 0.0, x, lo)
        hi = np.where(residual > 0.0, x, hi)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            newton = x - residual * np.exp(log_cdf - log_pdf)
        shrinking = np.abs(newton - x) < 0.5 * previous_step[todo]
        accept = np.isfinite(newton) & (newton > lo) & (newton < hi) & shrinking
        step_to = np.where(accept, newton, 0.5 * (lo + hi))
        step_to = np.where(residual == 0.0, x, step_to)
        tolerance = _PPF_RTOL * np.abs(step_to) + atol[todo]
        done = (np.abs(step_to - x) <= tolerance) | (hi - lo <= tolerance)
        roots[todo], lower[todo], upper[todo] = step_to, lo, hi
        previous_step[todo] = np.abs(step_to - x)
        todo = todo[~done]
    return roots


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
