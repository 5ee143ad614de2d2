"""The one validator of float arrays passed to skebm's public functions.

Estimators (``score``), distributions (query points, probabilities, mixture
parameters) and metrics (targets, weights, log-densities) all convert their
array arguments here, so that the same input is accepted or rejected with the
same message everywhere.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

__all__ = ["IntegerInterval", "as_float_array", "as_probability", "check_sample_weight"]


class IntegerInterval(Interval):
    """scikit-learn's ``Interval(Integral, left, right, closed=...)`` without the bools.

    ``True`` is an ``Integral`` in Python, so the plain constraint reads it as
    1; for a count such as ``input_bins``, where ``True`` reads like "on",
    that silently gives the wrong setting.

    Examples
    --------
    >>> bins = IntegerInterval(0, None, closed="left")
    >>> bins.is_satisfied_by(8), bins.is_satisfied_by(True)
    (True, False)
    """

    def __init__(self, left, right, *, closed: str) -> None:
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val) -> bool:
        """Whether ``val`` is an integer (not a bool) inside the interval."""
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def as_probability(value, name: str) -> float:
    """A level strictly inside (0, 1), given as a real number or a 0-d array, as a float.

    Parameters
    ----------
    value : float or 0-d array
        The level (not a bool, not a string).
    name : str
        The argument's name, for error messages.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not a real number strictly inside (0, 1).

    Examples
    --------
    >>> as_probability(np.array(0.9), "confidence")
    0.9
    """
    array = None if isinstance(value, (bool, str, bytes)) else np.asarray(value)
    if array is None or array.ndim != 0 or array.dtype.kind not in "iuf" \
            or not 0.0 < float(array) < 1.0:
        raise ValueError(f"{name} must be a float in (0, 1), got {value!r}.")
    return float(array)


def as_float_array(
    values, name: str, *, finite: bool = False, copy: bool = False, parse_strings: bool = False
) -> np.ndarray:
    """Convert ``values`` to a float64 array, rejecting what is not a real number.

    Booleans, integers and floats are accepted; with ``parse_strings``, so are
    strings (or objects) that spell real numbers, as scikit-learn's linear
    models accept them for ``y``. Anything else raises.

    Parameters
    ----------
    values : array-like
        The input.
    name : str
        The argument's name, for error messages.
    finite : bool, default=False
        Also reject NaN and infinity.
    copy : bool, default=False
        Always return a new array (otherwise float64 input is returned as is).
    parse_strings : bool, default=False
        Accept strings and objects that convert to float (targets ``y``).

    Returns
    -------
    ndarray of float64

    Raises
    ------
    TypeError
        If the values are not real numbers (complex numbers, dates, None,
        strings unless ``parse_strings``).
    ValueError
        With ``parse_strings``, if a string does not spell a number; with
        ``finite``, if some value is NaN or infinite.

    Examples
    --------
    >>> as_float_array(["1.5", "2"], "y", parse_strings=True)
    array([1.5, 2. ])
    """
    array = np.asarray(values)
    if parse_strings and array.dtype.kind in "USO":
        try:
            array = array.astype(np.float64)
        except ValueError as error:  # a word where a number was expected
            raise ValueError(f"{name} must be real numbers; {error}.") from None
        except TypeError as error:  # an object that is no number at all (None, a date)
            raise TypeError(f"{name} must be real numbers; {error}.") from None
    elif array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}.")
    array = np.array(array, dtype=np.float64, copy=True if copy else None)
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return array


def check_sample_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    """Row weights as float64 ``(n_rows,)``: finite, non-negative, not all zero; or ``None``."""
    if sample_weight is None:
        return None
    weights = as_float_array(sample_weight, "sample_weight")
    if weights.shape != (n_rows,):
        raise ValueError(f"sample_weight must have shape ({n_rows},), got {weights.shape}.")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(weights < 0):
        raise ValueError("Negative values in sample_weight are not allowed.")
    if weights.sum() <= 0:
        raise ValueError("sample_weight must have a non-zero sum.")
    return weights


def weighted_mean(values: np.ndarray, sample_weight) -> float:
    """Mean of per-row ``values`` (log-likelihoods) under checked row weights.

    Rows of zero weight are left out, so that a ``-inf`` there does not turn
    the mean into NaN; ``sample_weight=None`` weighs rows equally.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = check_sample_weight(sample_weight, len(values))
    if weights is None:
        return float(np.mean(values))
    counted = weights > 0
    return float(np.average(values[counted], weights=weights[counted]))
