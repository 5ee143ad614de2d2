"""The interface shared by every batch of conditional distributions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Integral

import numpy as np

from skebm._validation import as_float_array, as_probability
from skebm.distributions._roots import invert_cdf
from skebm.exceptions import NonFiniteOutputError

__all__ = ["ConditionalDistribution", "row_uniforms"]

_SEED_BOUND = 2**31 - 1
_LARGEST = float(np.finfo(np.float64).max)


class ConditionalDistribution(ABC):
    """A batch of ``n`` conditional distributions p(y | x_i), one per input row.

    Every method takes and returns float64 NumPy arrays in the units of the
    targets the estimator was fitted on. ``d`` is the target dimension.
    Shapes follow one rule: a 1-D target (``d == 1``) drops its trailing target
    axis, so ``mean()`` is ``(n,)`` for 1-D targets and ``(n, d)`` otherwise.

    Subclasses implement ``_logpdf_points``, :meth:`mean`, :meth:`var`,
    ``_cdf_points``, ``_ppf``, ``_sample`` and ``_take``; the
    shape handling and input validation live here, once, and so does what
    scipy's distributions do at infinite arguments: ``cdf`` is 0 at ``-inf``
    and 1 at ``+inf``, ``logpdf`` is ``-inf`` there (``pdf`` 0). A batch
    selected by indexing remembers which rows of the original batch it holds,
    so that its :meth:`sample` draws the same numbers for them
    (``d[rows].sample(k, s)`` equals ``d.sample(k, s)[rows]``).

    The hooks are a protected contract: other modules of skebm (calibration,
    the skpro adapter, the estimators) call them on any distribution, so
    their signatures and meaning stay fixed. ``_points(y, name)`` validates
    queries into ``(n, k, d)`` points; ``_logpdf_points(points)`` and
    ``_cdf_points(points)`` take ``(n, k, d)`` finite points and return
    ``(n, k)`` log densities and joint CDF values; ``_ppf(probabilities)``
    takes ``(n,)`` probabilities in (0, 1) and returns ``(n, d)`` marginal
    quantiles; ``_take(rows)`` returns the batch of the given integer rows.
    None validates its input; none may change the distribution.

    Parameters
    ----------
    n_rows : int
        Number of distributions ``n`` in the batch.
    target_dim : int
        Target dimension ``d``.
    """

    def __init__(self, n_rows: int, target_dim: int) -> None:
        self.n_rows = int(n_rows)
        self.target_dim = int(target_dim)
        self._row_ids: np.ndarray | None = None  # rows of the batch this was selected from

    # ------------------------------------------------------------------ API
    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, index) -> ConditionalDistribution:
        """Return the distributions of the selected rows (int, slice, mask or indices).

        An empty selection gives an empty batch, whose methods return empty arrays.
        """
        rows = np.arange(self.n_rows)[index]
        if rows.ndim > 1:  # None or a 2-D index: a batch of distributions is one-dimensional
            raise IndexError(
                f"A batch of distributions is indexed along its rows only (an int, a slice, a "
                f"boolean mask or integer indices); {index!r} would add an axis."
            )
        rows = np.atleast_1d(rows)
        taken = self._take(rows)
        taken._row_ids = self._stream_rows()[rows]
        return taken

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_rows={self.n_rows}, target_dim={self.target_dim})"

    @abstractmethod
    def mean(self) -> np.ndarray:
        """Mean of each distribution.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """

    @abstractmethod
    def var(self) -> np.ndarray:
        """Marginal variance of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """

    def std(self) -> np.ndarray:
        """Marginal standard deviation of each target dimension.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return np.sqrt(self.var())

    def logpdf(self, y) -> np.ndarray:
        """Log density at one point per row, or at many points per row.

        Parameters
        ----------
        y : array-like
            One point per row: ``(n,)`` for 1-D targets or ``(n, d)``.
            Many points per row: ``(n, k)`` for 1-D targets or ``(n, k, d)``.

        Returns
        -------
        ndarray
            ``(n,)`` for one point per row, ``(n, k)`` for many; finite or
            ``-inf`` (zero density), never NaN or ``+inf``.

        Raises
        ------
        NonFiniteOutputError
            If the density cannot be computed as a number (overflow).
        """
        points, single = self._points(y, "y")
        infinite = np.isinf(points).any(axis=2)  # zero density there
        out = self._logpdf_points(np.where(np.isinf(points), 0.0, points))
        out[infinite] = -np.inf
        if np.isnan(out).any() or np.isposinf(out).any():
            raise NonFiniteOutputError(
                f"The log density is NaN or +inf at {int(np.sum(~np.isfinite(out)))} of "
                f"{out.size} finite points; no finite result exists for them. This means the "
                "model's numbers overflowed, e.g. for targets or inputs far outside the range "
                "seen in fit."
            )
        return out[:, 0] if single else out

    def pdf(self, y) -> np.ndarray:
        """Density at one point per row, or at many points per row.

        Parameters
        ----------
        y : array-like
            Points, shaped as for :meth:`logpdf`.

        Returns
        -------
        ndarray
            ``(n,)`` for one point per row, ``(n, k)`` for many.
        """
        return np.exp(self.logpdf(y))

    def cdf(self, y) -> np.ndarray:
        """Cumulative distribution function P(Y <= y).

        For d > 1 this is the joint CDF P(Y_1 <= y_1, ..., Y_d <= y_d).

        Parameters
        ----------
        y : array-like
            Points, shaped as for :meth:`logpdf`.

        Returns
        -------
        ndarray
            ``(n,)`` for one point per row, ``(n, k)`` for many.
        """
        points, single = self._points(y, "y")
        below = np.isneginf(points).any(axis=2)  # P(Y <= -inf) = 0
        above = np.isposinf(points).all(axis=2)  # P(Y <= +inf) = 1
        # A coordinate at +inf drops out of a joint CDF: the largest float does that.
        with np.errstate(over="ignore"):
            out = self._cdf_points(np.where(np.isneginf(points), 0.0,
                                            np.where(np.isposinf(points), _LARGEST, points)))
        out = np.where(below, 0.0, np.where(above, 1.0, np.clip(out, 0.0, 1.0)))
        return out[:, 0] if single else out

    def ppf(self, q) -> np.ndarray:
        """Quantile function (inverse CDF) of each marginal.

        Parameters
        ----------
        q : float or array-like of shape (n,)
            Probabilities strictly inside (0, 1); a scalar applies to every row.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` (per-dimension marginal
            quantiles) otherwise.
        """
        probabilities = self._probabilities(q)
        out = self._ppf(probabilities)
        return out[:, 0] if self.target_dim == 1 else out

    def median(self) -> np.ndarray:
        """Median of each marginal.

        Returns
        -------
        ndarray
            ``(n,)`` for 1-D targets, ``(n, d)`` otherwise.
        """
        return self.ppf(0.5)

    def interval(self, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """Central interval holding ``confidence`` of the mass of each marginal.

        Parameters
        ----------
        confidence : float
            Mass inside the interval, in (0, 1), at most ``1 - 2e-16`` (float64
            cannot hold the upper level of a larger one).

        Returns
        -------
        lower, upper : ndarray
            ``(n,)`` each for 1-D targets, ``(n, d)`` otherwise.
        """
        tail = (1.0 - as_probability(confidence, "confidence")) / 2.0
        if 1.0 - tail == 1.0:
            raise ValueError(
                f"confidence={confidence!r} is too close to 1: the upper level 1 - (1 - "
                "confidence) / 2 rounds to 1 in float64. Use at most 1 - 2e-16.")
        return self.ppf(tail), self.ppf(1.0 - tail)

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Draw samples from each distribution.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples per row.
        random_state : int, numpy Generator or None
            Seed for reproducible draws.

        Returns
        -------
        ndarray
            ``(n, n_samples)`` for 1-D targets, ``(n, n_samples, d)`` otherwise.
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        draws = self._sample(int(n_samples), np.random.default_rng(_seed_of(random_state)))
        return draws[..., 0] if self.target_dim == 1 else draws

    # ------------------------------------------------------ for subclasses
    @abstractmethod
    def _logpdf_points(self, points: np.ndarray) -> np.ndarray:
        """Log density at ``points`` of shape ``(n, k, d)``; returns ``(n, k)``."""

    @abstractmethod
    def _cdf_points(self, points: np.ndarray) -> np.ndarray:
        """Joint CDF at ``points`` of shape ``(n, k, d)``; returns ``(n, k)``."""

    @abstractmethod
    def _ppf(self, probabilities: np.ndarray) -> np.ndarray:
        """Marginal quantiles for probabilities ``(n,)``; returns ``(n, d)``."""

    @abstractmethod
    def _sample(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """Samples of shape ``(n, n_samples, d)``."""

    @abstractmethod
    def _take(self, rows: np.ndarray) -> ConditionalDistribution:
        """The distributions of the given integer rows."""

    def _quantiles(self, probabilities: np.ndarray) -> np.ndarray:
        """Quantiles of a 1-D target at ``probabilities (n, k)`` in (0, 1); returns ``(n, k)``.

        By bracketed root finding on ``_cdf_points`` (:func:`invert_cdf`),
        between each row's quantiles at its smallest and largest probability.
        Subclasses with a cheaper exact inverse override it.
        """
        n, k = probabilities.shape
        if n == 0 or k == 0:
            return np.empty((n, k))
        low = self._ppf(probabilities.min(axis=1))[:, 0]
        high = self._ppf(probabilities.max(axis=1))[:, 0]

        def cdf(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
            return self._take(rows)._cdf_points(values[:, :, None])

        return invert_cdf(cdf, probabilities, low, high)

    def _row_uniforms(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` uniform numbers per row, ``(n, count)``, from one seed drawn from ``rng``.

        Each row's numbers depend only on that seed and on the row's place in
        the batch it was selected from, so a selection draws the same numbers.
        """
        return row_uniforms(int(rng.integers(_SEED_BOUND)), self._stream_rows(), count)

    def _stream_rows(self) -> np.ndarray:
        """Each row's index in the batch it was selected from (its own index if none)."""
        row_ids = getattr(self, "_row_ids", None)
        return np.arange(self.n_rows) if row_ids is None else row_ids

    def _squeeze_target(self, values: np.ndarray) -> np.ndarray:
        """Drop the trailing target axis of ``(..., d)`` values when d == 1."""
        return values[..., 0] if self.target_dim == 1 else values

    # ------------------------------------------------------------ helpers
    def _points(self, y, name: str) -> tuple[np.ndarray, bool]:
        """Validate query points and return them as ``(n, k, d)`` plus a 'one per row' flag."""
        values = as_float_array(y, name)
        if np.isnan(values).any():
            raise ValueError(f"{name} contains NaN; the distribution is defined at real numbers "
                             "and at +-inf only.")
        n, d = self.n_rows, self.target_dim
        if d == 1 and values.ndim in (1, 2) and values.shape[0] == n:
            single = values.ndim == 1
            return (values[:, None, None] if single else values[:, :, None]), single
        if d == 1 and values.ndim == 3 and values.shape[0] == n and values.shape[2] == 1:
            return values, False
        if d > 1 and values.ndim == 2 and values.shape == (n, d):
            return values[:, None, :], True
        if d > 1 and values.ndim == 3 and values.shape[0] == n and values.shape[2] == d:
            return values, False
        expected = "(n,) or (n, k)" if d == 1 else f"(n, {d}) or (n, k, {d})"
        raise ValueError(
            f"{name} has shape {values.shape}; expected {expected} with n={n} rows "
            f"for a target of dimension {d}."
        )

    def _probabilities(self, q) -> np.ndarray:
        values = as_float_array(q, "q", finite=True)
        if values.ndim == 0:
            values = np.full(self.n_rows, float(values))
        if values.shape != (self.n_rows,):
            raise ValueError(
                f"q must be a scalar or have shape ({self.n_rows},), got {values.shape}."
            )
        if np.any(values <= 0.0) or np.any(values >= 1.0):
            raise ValueError("q must lie strictly inside (0, 1).")
        return values


def _seed_of(random_state) -> int | np.random.Generator | None:
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}.")
        return int(random_state)
    raise TypeError(
        "random_state must be None, a non-negative int, a numpy Generator or RandomState, "
        f"got {random_state!r}."
    )


def row_uniforms(seed: int, rows: np.ndarray, count: int, start: int = 0) -> np.ndarray:
    """Uniform(0, 1) numbers ``(r, count)`` from a counter-based stream per (seed, row).

    A SplitMix64 hash of (seed, row, draw), draws ``start`` to ``start + count - 1``
    of each row's stream, so a row's numbers do not depend on which rows are
    drawn with it, and a stream can be read in consecutive pieces.
    """
    rows = np.asarray(rows)
    with np.errstate(over="ignore"):
        keys = _mix64(_mix64(np.full(len(rows), seed, dtype=np.uint64)) ^ rows.astype(np.uint64))
        counters = (np.arange(start, start + count, dtype=np.uint64)
                    * np.uint64(0x9E3779B97F4A7C15))
        bits = _mix64(keys[:, None] + counters[None, :])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _mix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, a bijective 64-bit mixer (wrapping arithmetic)."""
    values = values + np.uint64(0x9E3779B97F4A7C15)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))
