"""Predicted distributions through a scikit-learn :class:`~sklearn.pipeline.Pipeline`."""

from __future__ import annotations

__all__ = ["predict_dist"]


def predict_dist(estimator, X):
    """``estimator.predict_dist(X)``, also through a Pipeline ending in such an estimator.

    A :class:`~sklearn.pipeline.Pipeline` has no ``predict_dist`` of its own:
    this function transforms ``X`` with every step but the last (``None`` and
    ``"passthrough"`` steps are skipped) and calls the final estimator's
    ``predict_dist``. An estimator with ``predict_dist`` is called directly.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A skebm estimator, or a Pipeline whose final step is one.
    X : array-like
        Inputs, as the estimator (or the Pipeline's first step) expects them.

    Returns
    -------
    ConditionalDistribution
        The predicted distributions of the rows of ``X``.

    Raises
    ------
    TypeError
        If neither ``estimator`` nor its final step has ``predict_dist``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skebm.pipeline import predict_dist
    >>> class Echo:
    ...     def predict_dist(self, X): return X
    >>> pipeline = make_pipeline(FunctionTransformer(lambda X: 2 * X), Echo())
    >>> predict_dist(pipeline, np.ones(2))
    array([2., 2.])
    """
    steps = getattr(estimator, "steps", None)
    if steps is not None and not hasattr(estimator, "predict_dist"):
        for _, transformer in steps[:-1]:
            if transformer not in (None, "passthrough"):
                X = transformer.transform(X)
        estimator = steps[-1][1]
    if not hasattr(estimator, "predict_dist"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_dist; predict_dist needs a skebm "
            "estimator or a Pipeline ending in one."
        )
    return estimator.predict_dist(X)
