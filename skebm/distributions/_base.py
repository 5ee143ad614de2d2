"""The interface shared by every batch of conditional distributions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Integral

import numpy as np

from skebm._validation import as_float_array, as_probability
from skebm.exceptions import NonFiniteOutputError

__all__ = ["ConditionalDistribution"]


class ConditionalDistribution(ABC):
    """A batch of ``n`` conditional distributions p(y | x_i), one per input row.

    Every method takes and returns float64 NumPy arrays in the units of the
    targets the estimator was fitted on. ``d`` is the target dimension.
    Shapes follow one rule: a 1-D target (``d == 1``) drops its trailing target
    axis, so ``mean()`` is ``(n,)`` for 1-D targets and ``(n, d)`` otherwise.

    Subclasses implement ``_logpdf_points``, :meth:`mean`, :meth:`var`,
    ``_cdf_points``, ``_ppf``, ``_sample`` and ``_take``; the
    shape handling and input validation live here, once.

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
        return self._take(np.atleast_1d(rows))

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
        out = self._logpdf_points(points)
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
        out = np.clip(self._cdf_points(points), 0.0, 1.0)
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

    def _squeeze_target(self, values: np.ndarray) -> np.ndarray:
        """Drop the trailing target axis of ``(..., d)`` values when d == 1."""
        return values[..., 0] if self.target_dim == 1 else values

    # ------------------------------------------------------------ helpers
    def _points(self, y, name: str) -> tuple[np.ndarray, bool]:
        """Validate query points and return them as ``(n, k, d)`` plus a 'one per row' flag."""
        values = as_float_array(y, name, finite=True)
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
