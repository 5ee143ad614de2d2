"""Targets: their standardisation, the range the network covers, checks and shapes.

The networks see targets standardised column by column; the grid bounds are
the standardised range (with a margin) that the network is built for and
that a warm start must stay inside. Predictions come back in the units and
the shape of the ``y`` passed to ``fit``.
"""

from __future__ import annotations

import numpy as np

from skebm._preprocessing import Standardizer
from skebm._validation import as_float_array
from skebm._weights import weighted_moments

__all__ = ["as_targets", "check_target_range", "grid_bounds", "squeeze", "target_shape",
           "target_standardizer"]

RELATIVE_SCALE_FLOOR = 1e-10
"""Smallest target scale, relative to the mean magnitude (see :func:`target_standardizer`)."""


def target_standardizer(targets: np.ndarray, weights: np.ndarray | None = None) -> Standardizer:
    """Standardisation of the targets, with a scale no smaller than their magnitude allows.

    With ``weights``, the mean and standard deviation are the weighted ones
    (a row of weight 2 counts as two copies of it).

    Float64 resolves about 16 digits, so targets near 1e18 are represented only
    in steps of 128. A scale of at least ``RELATIVE_SCALE_FLOOR * |mean|``
    keeps the grid, the mixture widths and everything else computed in user
    units well above that step. Constant targets get that scale. Targets that
    vary, but by less than half of it, would be squeezed into a small part of
    the standardised range the networks are built for, and the fitted
    densities would be far too wide: they are refused with advice instead.

    Parameters
    ----------
    targets : ndarray of shape (n, d)
        Training targets.
    weights : ndarray of shape (n,), optional
        Positive row weights.

    Returns
    -------
    Standardizer

    Raises
    ------
    ValueError
        If a target column varies too little for its magnitude.
    """
    scaler = Standardizer(targets)
    if weights is not None:
        scaler.mean, scale = weighted_moments(targets, weights)
        scaler.scale = np.where(scaler.constant, 1.0, scale)
    floor = RELATIVE_SCALE_FLOOR * np.abs(scaler.mean)
    squeezed = ~scaler.constant & (scaler.scale < 0.5 * floor)
    if np.any(squeezed):
        column = int(np.flatnonzero(squeezed)[0])
        raise ValueError(
            f"y varies too little for its magnitude: target column {column} has standard "
            f"deviation {scaler.scale[column]:.3g} around {scaler.mean[column]:.6g}, less than "
            f"{0.5 * RELATIVE_SCALE_FLOOR:.0e} of it, which float64 densities in the units of y "
            f"cannot resolve. Subtract a constant from y (e.g. {scaler.mean[column]:.6g}) before "
            "fitting, and add it back to predictions.")
    scaler.scale = np.maximum(scaler.scale, floor)
    return scaler


def grid_bounds(standard: np.ndarray) -> tuple[float, float]:
    """The standardised target range a network is built for.

    The range of ``standard`` (standardised targets) widened on both sides by
    a tenth of its width, and by at least 1.
    """
    margin = max(1.0, 0.1 * float(np.ptp(standard)))
    return float(standard.min()) - margin, float(standard.max()) + margin


def check_target_range(targets: np.ndarray, scaler: Standardizer,
                       bounds: tuple[float, float]) -> None:
    """Refuse warm-start targets outside the range the fitted network covers.

    Raises
    ------
    ValueError
        If a standardised target lies outside ``bounds``.
    """
    standard = (targets - scaler.mean) / scaler.scale
    low, high = bounds
    if standard.min() < low or standard.max() > high:
        raise ValueError(
            "warm_start=True keeps the target scaling and range of the first fit, and "
            f"these targets reach [{float(targets.min()):.6g}, {float(targets.max()):.6g}], "
            "outside the range it covers "
            f"[{_user(low, scaler):.6g}, {_user(high, scaler):.6g}]; the network cannot "
            "represent them. Set warm_start=False to fit on the new range."
        )


def as_targets(y, n_rows: int, target_dim: int) -> np.ndarray:
    """Validate targets passed to ``score`` and return them as ``(n, d)`` float64."""
    values = as_float_array(y, "y", finite=True, parse_strings=True)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"y must have shape (n_samples,) or (n_samples, n_targets), got {values.shape}."
        )
    values = values.reshape(values.shape[0], -1)
    if values.shape != (n_rows, target_dim):
        raise ValueError(
            f"y has {values.shape[0]} rows and {values.shape[1]} target columns; expected "
            f"{n_rows} rows and {target_dim} columns."
        )
    return values


def target_shape(point: np.ndarray, target_ndim: int) -> np.ndarray:
    """Per-row predictions ``(n, ...)`` in the shape of a ``y`` with ``target_ndim`` axes."""
    n_rows = point.shape[0]
    return point.reshape(n_rows) if target_ndim == 1 else point.reshape(n_rows, -1)


def squeeze(targets: np.ndarray) -> np.ndarray:
    """``(n, 1)`` targets as ``(n,)``, the one-point-per-row form of ``logpdf``."""
    return targets[:, 0] if targets.shape[1] == 1 else targets


def _user(standard: float, scaler: Standardizer) -> float:
    """A standardised bound in the units of the first target column."""
    return float(standard * scaler.scale[0] + scaler.mean[0])
