"""Probability integral transform (PIT) values and the calibration error they give."""

from __future__ import annotations

import numpy as np

from skebm.calibration._discrete import integer_values, pit_intervals, randomised_pit
from skebm.distributions import ConditionalDistribution

__all__ = ["calibration_error", "pit"]


def pit(y_true, dist, *, discrete: bool = False, random_state=0) -> np.ndarray:
    """Probability integral transform ``F(y_i | x_i)`` of each target, per marginal.

    For a calibrated model the PIT values of held-out data are uniform on
    [0, 1]; an over-confident model (too narrow) piles them up near 0 and 1 (a
    U-shaped histogram), an under-confident one near 0.5.

    For integer targets ``k`` of a model fitted on ``k + U(-1/2, 1/2)``,
    ``discrete=True`` gives the randomised PIT (Czado, Gneiting and Held,
    Biometrics 2009) ``F(k - 1/2) + V (F(k + 1/2) - F(k - 1/2))`` with
    ``V ~ U(0, 1)``: uniform exactly when the probabilities of the integers,
    ``F(k + 1/2) - F(k - 1/2)``, are calibrated. (``F(k)`` itself would
    judge the shape of the density inside each unit bin, which the
    dequantisation made up.)

    The arguments are those of the metrics in :mod:`skebm.metrics`: the
    targets, then the predicted distributions (``model.predict_dist(X)``, or
    :func:`skebm.pipeline.predict_dist` for a Pipeline).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        Targets; integers of a 1-D target with ``discrete=True``.
    dist : ConditionalDistribution
        Batch of ``n`` predicted distributions, one per target.
    discrete : bool, default=False
        Return the randomised PIT of integer targets.
    random_state : int, Generator or None, default=0
        Seed of the uniforms ``V`` of the randomised PIT; unused without
        ``discrete``. The fixed default makes the values reproducible, as for
        :func:`skebm.metrics.crps`; ``None`` draws fresh randomness each call.

    Returns
    -------
    ndarray of shape (n,) or (n, d)
        ``F(y_i | x_i)`` for 1-D targets; for ``d > 1`` the CDF of each
        marginal, ``P(Y_j <= y_ij | x_i)``, column by column.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.calibration import pit
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> standard_normals = GaussianMixtureDistribution(
    ...     np.zeros((3, 1)), np.zeros((3, 1, 1)), np.ones((3, 1, 1)))
    >>> pit([0.0, -1.0, 1.0], standard_normals).round(4)
    array([0.5   , 0.1587, 0.8413])
    >>> values = pit([0, 0, 0], standard_normals, discrete=True)
    >>> bool(np.all((0.3085 < values) & (values < 0.6915)))  # between F(-1/2) and F(1/2)
    True
    """
    if not isinstance(dist, ConditionalDistribution):
        raise TypeError(
            "dist must be a batch of predicted distributions, such as model.predict_dist(X), "
            f"got {type(dist).__name__}."
        )
    targets = np.asarray(y_true)
    if dist.target_dim == 1 and targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if dist.target_dim == 1 and targets.ndim != 1:
        raise ValueError(f"y_true must have shape (n,) for a 1-D target, got {targets.shape}.")
    if discrete:
        if dist.target_dim != 1:
            raise ValueError("discrete=True supports 1-D targets only.")
        lower, upper = pit_intervals(dist, integer_values(targets))
        uniforms = np.random.default_rng(random_state).random(len(lower))
        return randomised_pit(lower, upper, uniforms)
    points, _ = dist._points(targets, "y_true")  # validated (n, 1, d)
    if dist.target_dim == 1:
        return np.clip(dist._cdf_points(points)[:, 0], 0.0, 1.0)
    # Marginal CDFs: the joint CDF with every other coordinate at +infinity.
    d = dist.target_dim
    marginal_points = np.where(np.eye(d, dtype=bool), points, np.inf)  # (n, d, d)
    return np.clip(dist._cdf_points(marginal_points), 0.0, 1.0)


def calibration_error(pit_values) -> float | np.ndarray:
    """Mean absolute deviation of the empirical PIT CDF from the uniform CDF.

    ``CE = integral_0^1 |F_n(p) - p| dp`` with ``F_n`` the empirical CDF of
    the PIT values, computed exactly. It is 0 for perfectly uniform PIT values
    and at most 0.5; when the model is calibrated its expected value shrinks
    like ``0.5 / sqrt(n)`` (about 0.016 for 1000 values). Because
    ``F_n(p) - p`` is the miscoverage of the one-sided level-``p`` quantile,
    ``CE`` is the average miscoverage over all levels.

    Parameters
    ----------
    pit_values : array-like of shape (n,) or (n, d)
        PIT values in [0, 1], e.g. from :func:`pit`.

    Returns
    -------
    float or ndarray of shape (d,)
        One error per column for ``(n, d)`` input.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.calibration import calibration_error
    >>> round(calibration_error((np.arange(100) + 0.5) / 100), 6)  # evenly spread: 1 / (4 n)
    0.0025
    >>> calibration_error(np.full(100, 0.5))
    0.25
    """
    values = np.asarray(pit_values)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"pit_values must be real numbers, got dtype {values.dtype}.")
    values = values.astype(np.float64)
    if values.ndim not in (1, 2) or values.shape[0] < 1:
        raise ValueError(f"pit_values must have shape (n,) or (n, d), got {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values < 0.0) or np.any(values > 1.0):
        raise ValueError("pit_values must lie in [0, 1].")
    if values.ndim == 2:
        return np.array([_deviation_from_uniform(column) for column in values.T])
    return _deviation_from_uniform(values)


def _deviation_from_uniform(values: np.ndarray) -> float:
    """``integral |F_n(p) - p| dp`` over [0, 1], piece by piece between sorted values."""
    edges = np.concatenate([[0.0], np.sort(values), [1.0]])
    heights = np.arange(len(edges) - 1) / len(values)  # F_n on [edges[k], edges[k+1])
    return float(np.sum(_integral_abs_difference(heights, edges[:-1], edges[1:])))


def _integral_abs_difference(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``integral_a^b |c - p| dp`` for each piece."""
    below = np.clip(c, a, b)  # |c - p| = c - p on [a, below], p - c on [below, b]
    return 0.5 * ((below - a) * (2 * c - a - below) + (b - below) * (b + below - 2 * c))
