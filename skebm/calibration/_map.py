"""A continuous, strictly increasing map of [0, 1] onto itself, fitted to PIT values."""

from __future__ import annotations

import numpy as np

__all__ = ["CalibrationMap"]

# Share of the identity mixed into the inverse map: keeps the map strictly
# increasing and its slope at most 1 / _IDENTITY_SHARE.
_IDENTITY_SHARE = 0.001
# n_knots="auto": the candidates (at most one per 8 PIT values) and the folds
# of the cross-validation that picks one.
_AUTO_CANDIDATES = (2, 3, 4, 6, 8, 11, 16, 22, 30, 40, 50)
_AUTO_MIN_VALUES_PER_KNOT = 8
_AUTO_FOLDS = 5


class CalibrationMap:
    """The recalibration map ``R`` of Kuleshov et al. (2018), made smooth enough for densities.

    A model is calibrated when its probability integral transform (PIT)
    ``F(y | x)`` is uniform on held-out data. The isotonic recalibration map is
    the function sending a nominal level ``p`` to the observed frequency of
    ``PIT <= p``, i.e. the empirical CDF of the held-out PIT values (which is
    already monotone, so the isotonic fit is that CDF itself). It is a step
    function, which would give the recalibrated distribution atoms and a
    density of zero or infinity. Here it is made continuous and strictly
    increasing:

    1. its inverse is tabulated at ``n_knots + 1`` levels
       ``l_j = (1 - cos(pi j / n_knots)) / 2`` (denser near 0 and 1, where
       the ends of the usual intervals lie) as the empirical quantiles ``q_j``
       of the PIT values, with ``q_0 = 0`` and ``q_n = 1``;
    2. the inverse ``R^{-1}(l) = (1 - eps) Q(l) + eps l`` mixes the
       piecewise-linear interpolation ``Q`` of those quantiles with a share
       ``eps = 0.001`` of the identity, so it is strictly increasing.

    ``R`` is then piecewise linear with knots ``(R^{-1}(l_j), l_j)``, maps
    [0, 1] onto [0, 1], and its slope ``R'`` (the factor by which densities
    are multiplied) is positive and at most ``1 / eps = 1000``. A calibrated
    model gives ``R`` close to the identity.

    ``R'`` is a density estimate of the PIT values (a histogram with
    equal-mass bins), and the recalibrated model's log-likelihood of a target
    is the base model's plus ``log R'`` of its PIT value. So the number of
    pieces trades a closer fit of the PIT distribution (more pieces) against
    a noisier density (each extra piece costs a calibrated model about
    ``1 / (2 n)`` nats); ``n_knots="auto"`` picks it from
    (2, 3, 4, 6, 8, 11, 16, 22, 30, 40, 50), at most one piece per 8 values,
    by 5-fold cross-validation of that log-likelihood on the PIT values
    themselves (a fixed split: the map is a deterministic function of them).

    Parameters
    ----------
    pit_values : array-like of shape (n,)
        Held-out PIT values in [0, 1].
    n_knots : int or "auto", default="auto"
        Number of linear pieces, at least 2, or chosen by cross-validation.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.calibration import CalibrationMap
    >>> uniform = np.linspace(0.0, 1.0, 1001)
    >>> calibration = CalibrationMap(uniform, n_knots=8)
    >>> calibration(np.array([0.1, 0.5, 0.9])).round(3)
    array([0.1, 0.5, 0.9])
    >>> calibration.inverse(calibration(np.array([0.3]))).round(12)
    array([0.3])
    """

    def __init__(self, pit_values, n_knots="auto") -> None:
        values = np.asarray(pit_values, dtype=np.float64).reshape(-1)
        if values.size < 2 or not np.all(np.isfinite(values)):
            raise ValueError("pit_values must hold at least two finite values.")
        if np.any(values < 0.0) or np.any(values > 1.0):
            raise ValueError("pit_values must lie in [0, 1].")
        if isinstance(n_knots, str):
            if n_knots != "auto":
                raise ValueError(f"n_knots must be an int or 'auto', got {n_knots!r}.")
            n_knots = _cross_validated_knots(values)
        if int(n_knots) < 2:
            raise ValueError(f"n_knots must be at least 2, got {n_knots!r}.")
        self.levels_, self.knots_ = _knots(values, int(n_knots))
        self.slopes_ = np.diff(self.levels_) / np.diff(self.knots_)

    @property
    def n_knots(self) -> int:
        """Number of linear pieces."""
        return len(self.slopes_)

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        """``R(p)``: the recalibrated probability of a base CDF value ``p`` in [0, 1]."""
        return np.interp(probabilities, self.knots_, self.levels_)

    def inverse(self, levels: np.ndarray) -> np.ndarray:
        """``R^{-1}(u)``: the base CDF value that the map sends to ``u`` in [0, 1].

        Parameters
        ----------
        levels : ndarray
            Recalibrated probabilities ``u`` in [0, 1], of any shape.

        Returns
        -------
        ndarray
            The base CDF values ``R^{-1}(u)``, of the shape of ``levels``.
        """
        return np.interp(levels, self.levels_, self.knots_)

    def log_derivative(self, probabilities: np.ndarray) -> np.ndarray:
        """``log R'(p)``; at a knot, the slope of the piece to its right.

        Parameters
        ----------
        probabilities : ndarray
            Base CDF values ``p`` in [0, 1], of any shape.

        Returns
        -------
        ndarray
            The log-slope of the map at each ``p``, of the shape of
            ``probabilities``: what the recalibration adds to the base
            log-density.
        """
        piece = np.searchsorted(self.knots_, probabilities, side="right") - 1
        return np.log(self.slopes_[np.clip(piece, 0, self.n_knots - 1)])

    def __repr__(self) -> str:
        return f"CalibrationMap(n_knots={self.n_knots})"


def _knots(values: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """Levels ``l_j`` and knots ``R^{-1}(l_j)`` of the map with ``n_knots`` pieces."""
    levels = 0.5 * (1.0 - np.cos(np.pi * np.arange(n_knots + 1) / n_knots))
    levels[0], levels[-1] = 0.0, 1.0
    quantiles = np.quantile(values, levels)
    quantiles[0], quantiles[-1] = 0.0, 1.0
    quantiles = np.maximum.accumulate(quantiles)  # rounding must not break monotonicity
    return levels, (1.0 - _IDENTITY_SHARE) * quantiles + _IDENTITY_SHARE * levels


def _cross_validated_knots(values: np.ndarray) -> int:
    """The candidate number of pieces whose maps give held-out PIT values the most likelihood."""
    most = max(2, len(values) // _AUTO_MIN_VALUES_PER_KNOT)
    candidates = [m for m in _AUTO_CANDIDATES if m <= most] or [2]
    fold_of = np.random.default_rng(0).permutation(len(values)) % _AUTO_FOLDS
    if len(values) < 2 * _AUTO_FOLDS:
        return candidates[0]
    scores = []
    for n_knots in candidates:
        score = 0.0
        for fold in range(_AUTO_FOLDS):
            calibration = CalibrationMap(values[fold_of != fold], n_knots)
            score += float(np.sum(calibration.log_derivative(values[fold_of == fold])))
        scores.append(score)
    return candidates[int(np.argmax(scores))]
