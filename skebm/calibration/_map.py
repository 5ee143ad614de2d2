"""A continuous, strictly increasing map of [0, 1] onto itself, fitted to PIT values."""

from __future__ import annotations

import numpy as np

from skebm.calibration._discrete import _levels, interval_quantiles

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
        n_knots = _knot_count(
            n_knots, len(values),
            lambda rows, m: CalibrationMap(values[rows], m),
            lambda calibration, rows: calibration.log_derivative(values[rows]))
        self._set_knots(*_knots(values, n_knots))

    @classmethod
    def from_intervals(cls, lower, upper, n_knots="auto") -> CalibrationMap:
        """The map fitted to the PIT intervals of integer targets.

        For a model of integer targets ``k`` with continuous CDF ``F`` (fitted
        on ``k + U(-1/2, 1/2)``), the held-out PIT of ``k`` is the interval
        ``[a, b] = [F(k - 1/2), F(k + 1/2)]``, and the probabilities
        ``F(k + 1/2) - F(k - 1/2)`` are calibrated when the randomised PIT
        ``a + V (b - a)``, ``V ~ U(0, 1)``, is uniform. Fitting the
        continuous map to randomised PIT values does not achieve that: the
        recalibrated randomised PIT, uniform on ``[R(a), R(b)]``, is not
        ``R(a + V (b - a))`` when ``R`` bends inside the interval, and wide
        intervals (few likely integers) are what integer targets give. This
        map is tabulated at the same levels ``l_j`` as the continuous one,
        with ``R^{-1}(l_j)`` chosen so that the mean of the uniform CDFs on
        the recalibrated intervals, ``G(u)``, is ``l_j`` at ``u = l_j``: a
        fixed-point iteration ``R^{-1}(l_j) <- R^{-1}(G^{-1}(l_j))`` from the
        identity (at most 200 steps). It uses no random draws. For point
        intervals (``a = b``) it is the continuous map, up to how the PIT
        quantiles interpolate between sorted values. ``n_knots="auto"``
        cross-validates, as there, the recalibrated log-likelihood gain,
        here ``log (R(b) - R(a)) - log (b - a)`` (the integers' log-probability).

        Parameters
        ----------
        lower, upper : array-like of shape (n,)
            ``F(k - 1/2)`` and ``F(k + 1/2)`` of held-out integer targets,
            in [0, 1], ``lower <= upper``.
        n_knots : int or "auto", default="auto"
            Number of linear pieces, at least 2, or chosen by cross-validation.

        Returns
        -------
        CalibrationMap
            The fitted map.

        Examples
        --------
        >>> import numpy as np
        >>> from scipy import stats
        >>> from skebm.calibration import CalibrationMap
        >>> rng = np.random.default_rng(0)
        >>> k = np.rint(2.0 * rng.normal(size=4000))  # integers, spread 2
        >>> lower, upper = stats.norm.cdf(k - 0.5), stats.norm.cdf(k + 0.5)  # model: spread 1
        >>> calibration = CalibrationMap.from_intervals(lower, upper)
        >>> calibration(stats.norm.cdf([-2.5, 2.5])).round(2)  # P(|Y| <= 2): 0.99 -> 0.79
        array([0.1 , 0.89])
        """
        low = np.asarray(lower, dtype=np.float64).reshape(-1)
        high = np.asarray(upper, dtype=np.float64).reshape(-1)
        if low.shape != high.shape or low.size < 2:
            raise ValueError("lower and upper must hold the same number (at least two) of values.")
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("lower and upper must be finite.")
        if np.any(low < 0.0) or np.any(high > 1.0) or np.any(low > high):
            raise ValueError("The intervals must satisfy 0 <= lower <= upper <= 1.")
        n_knots = _knot_count(
            n_knots, len(low),
            lambda rows, m: cls.from_intervals(low[rows], high[rows], m),
            lambda calibration, rows: calibration.interval_log_gain(low[rows], high[rows]))
        calibration = cls.__new__(cls)
        calibration._set_knots(*interval_quantiles(low, high, n_knots, _IDENTITY_SHARE))
        return calibration

    def _set_knots(self, levels: np.ndarray, knots: np.ndarray) -> None:
        self.levels_, self.knots_ = levels, knots
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

    def interval_log_gain(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """``log (R(b) - R(a)) - log (b - a)``; ``log R'(a)`` where ``b - a`` is negligible.

        Parameters
        ----------
        lower, upper : ndarray
            The ends ``a <= b`` of base CDF intervals, such as
            ``F(k - 1/2)`` and ``F(k + 1/2)``.

        Returns
        -------
        ndarray
            What the recalibration adds to the log-probability of each
            interval, of the shape of ``lower``.
        """
        widths = upper - lower
        point = widths <= 1e-12
        mapped = self(upper) - self(lower)
        gain = np.log(np.where(point, 1.0, mapped)) - np.log(np.where(point, 1.0, widths))
        return np.where(point, self.log_derivative(lower), gain)

    def __repr__(self) -> str:
        return f"CalibrationMap(n_knots={self.n_knots})"


def _knot_count(n_knots, n_values: int, fit, held_out_gain) -> int:
    """``n_knots`` checked, or for ``"auto"`` chosen by :func:`_cross_validated_knots`."""
    if isinstance(n_knots, str):
        if n_knots != "auto":
            raise ValueError(f"n_knots must be an int or 'auto', got {n_knots!r}.")
        return _cross_validated_knots(n_values, fit, held_out_gain)
    if int(n_knots) < 2:
        raise ValueError(f"n_knots must be at least 2, got {n_knots!r}.")
    return int(n_knots)


def _knots(values: np.ndarray, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """Levels ``l_j`` and knots ``R^{-1}(l_j)`` of the map with ``n_knots`` pieces."""
    levels = _levels(n_knots)
    quantiles = np.quantile(values, levels)
    quantiles[0], quantiles[-1] = 0.0, 1.0
    quantiles = np.maximum.accumulate(quantiles)  # rounding must not break monotonicity
    return levels, (1.0 - _IDENTITY_SHARE) * quantiles + _IDENTITY_SHARE * levels


def _cross_validated_knots(n_values: int, fit, held_out_gain) -> int:
    """The candidate number of pieces whose maps give held-out values the most likelihood.

    ``fit(rows, n_knots)`` fits a map to the values at a boolean mask of
    rows; ``held_out_gain(map, rows)`` is the log-likelihood it adds there.
    """
    most = max(2, n_values // _AUTO_MIN_VALUES_PER_KNOT)
    candidates = [m for m in _AUTO_CANDIDATES if m <= most] or [2]
    fold_of = np.random.default_rng(0).permutation(n_values) % _AUTO_FOLDS
    if n_values < 2 * _AUTO_FOLDS:
        return candidates[0]
    scores = []
    for n_knots in candidates:
        score = 0.0
        for fold in range(_AUTO_FOLDS):
            calibration = fit(fold_of != fold, n_knots)
            score += float(np.sum(held_out_gain(calibration, fold_of == fold)))
        scores.append(score)
    return candidates[int(np.argmax(scores))]
