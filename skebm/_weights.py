"""Row weights of ``fit``: validation and the weighted statistics the fit needs.

A row of integer weight ``k`` stands for ``k`` copies of it, in expectation:
the weighted target statistics equal those of the repeated rows exactly, the
training epochs visit rows in proportion to their weights (see
:func:`skebm._training.epoch_order`), and the early-stopping score is the
weighted mean log-likelihood of the held-out rows. Rows of weight 0 are
removed before anything is computed.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import _check_sample_weight, has_fit_parameter

__all__ = ["training_weights", "weight_routing", "weighted_moments"]


def training_weights(sample_weight, X) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The rows that ``fit`` keeps and their weights.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
        Non-negative, finite weights, not all zero (checked by scikit-learn's
        ``_check_sample_weight``).
    X : array-like
        The validated inputs, for the number of rows.

    Returns
    -------
    rows : ndarray of int or None
        Indices of the rows of positive weight; ``None`` when all are kept.
    weights : ndarray of shape (n_kept,) or None
        Their weights scaled to mean 1; ``None`` when they are all equal, so
        that equal weights fit exactly as no weights do.

    Examples
    --------
    >>> import numpy as np
    >>> rows, weights = training_weights([2.0, 0.0, 6.0], np.zeros((3, 1)))
    >>> rows.tolist(), weights.tolist()
    ([0, 2], [0.5, 1.5])
    >>> training_weights([3.0, 3.0], np.zeros((2, 1)))
    (None, None)
    """
    if sample_weight is None:
        return None, None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                   ensure_non_negative=True)
    positive = weights > 0
    rows = None if positive.all() else np.flatnonzero(positive)
    weights = weights[positive]
    if np.all(weights == weights[0]):
        return rows, None
    return rows, weights / weights.mean()


def weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of each column of ``values`` ``(n, p)``.

    Computed in units of each column's largest magnitude, as
    :class:`~skebm._preprocessing.Standardizer` does, so that values near the
    float64 limit do not overflow.

    Examples
    --------
    >>> import numpy as np
    >>> mean, std = weighted_moments(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
    >>> float(mean[0]), round(float(std[0]), 6)
    (0.75, 0.433013)
    """
    values = np.asarray(values, dtype=np.float64)
    peak = np.max(np.abs(values), axis=0)
    peak = np.where(peak > 0.0, peak, 1.0)
    scaled = values / peak
    mean = np.average(scaled, axis=0, weights=weights)
    variance = np.average(np.square(scaled - mean), axis=0, weights=weights)
    return mean * peak, np.sqrt(variance) * peak


def weight_routing(estimator, sample_weight) -> str | None:
    """The ``fit`` keyword that takes the row weights of ``estimator``; ``None`` without weights.

    A Pipeline passes them to its last step (``<step>__sample_weight``).
    """
    if sample_weight is None:
        return None
    if type(estimator) is Pipeline:
        name, final = estimator.steps[-1]
        if has_fit_parameter(final, "sample_weight"):
            return f"{name}__sample_weight"
    elif has_fit_parameter(estimator, "sample_weight"):
        return "sample_weight"
    raise ValueError(
        f"sample_weight was passed, but {type(estimator).__name__}.fit does not accept "
        "sample_weight (nor the last step of a Pipeline); fit without weights.")
