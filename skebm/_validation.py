"""The one validator of float arrays passed to skebm's public functions.

Estimators (``score``), distributions (query points, probabilities, mixture
parameters) and metrics (targets, weights, log-densities) all convert their
array arguments here, so that the same input is accepted or rejected with the
same message everywhere.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_float_array", "check_sample_weight"]


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
