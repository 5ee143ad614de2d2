"""Fitting the models of :class:`RecalibratedRegressor`: seeds, weights, targets and jobs.

Every fit of every model (each fold's ``n_fits`` fits and the final model's)
is one job: the clones are reseeded before any job runs, so the fits do not
depend on how many run at once (``n_jobs``) or in which order.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_array

from skebm._weights import weight_routing

__all__ = ["fit_jobs", "one_dimensional_targets"]


def fit_jobs(clones: list, X, y, sample_weight, row_sets: list, cv, n_jobs) -> list[list]:
    """The clones fitted on each set of rows (``None``: all rows), ``n_jobs`` fits at a time.

    Returns one list of fitted clones per entry of ``row_sets``. A fold whose
    fit fails with a ValueError (too few rows, typically) is named in the
    error, with ``cv`` and its row counts.
    """
    routing = weight_routing(clones[0], sample_weight)
    n_folds = sum(rows is not None for rows in row_sets)
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(_fit_one)(unfitted, X, y, sample_weight, rows, routing, fold, n_folds, cv)
        for fold, rows in enumerate(row_sets) for unfitted in clones)
    return [fitted[start:start + len(clones)] for start in range(0, len(fitted), len(clones))]


def _fit_one(unfitted, X, y, sample_weight, rows, routing, fold, n_folds, cv):
    """A fresh clone of ``unfitted`` fitted on ``rows`` of ``X`` and ``y``."""
    params = {} if routing is None else {routing: sample_weight}
    if rows is None:
        return clone(unfitted).fit(X, y, **params)
    if routing is not None:
        params = {routing: sample_weight[rows]}
    try:
        return clone(unfitted).fit(_safe_indexing(X, rows), y[rows], **params)
    except InvalidParameterError:
        raise  # the estimator's own parameters are at fault, not the fold's size
    except ValueError as error:
        raise ValueError(
            f"cv={cv!r} on {len(y)} rows: the model of fold {fold + 1} of {n_folds} is "
            f"fitted on {len(rows)} rows ({len(y) - len(rows)} held out), and "
            f"{type(unfitted).__name__} could not be fitted on them: {error} Use fewer "
            "folds or more rows.") from error


def one_dimensional_targets(y) -> tuple[np.ndarray, int]:
    """Targets as float64 ``(n,)``, and the number of axes ``y`` had (1, or 2 for ``(n, 1)``)."""
    if y is None:
        raise ValueError("RecalibratedRegressor requires y to be passed, but the target y is None.")
    values = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0], 2
    if values.ndim != 1:
        raise ValueError(
            f"RecalibratedRegressor supports 1-D targets only, got y of shape {values.shape}: "
            "a per-marginal map would not give a consistent joint density. Use "
            "skebm.calibration.pit and calibration_error to diagnose each marginal."
        )
    return values, 1


def _early_stopping_rows(model) -> np.ndarray:
    """Training rows the fitted ``model`` (or its Pipeline's last step) held out, if it says.

    Only scikit-learn's own ``Pipeline``: a subclass may resample the rows
    (imbalanced-learn's does), and then the last step's indices are not
    rows of ``X``.
    """
    final = model[-1] if type(model) is Pipeline else model
    rows = getattr(final, "validation_indices_", None)  # other estimators do not record it
    return np.empty(0, dtype=np.intp) if rows is None else np.asarray(rows, dtype=np.intp)
