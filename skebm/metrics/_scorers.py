"""scikit-learn scorers built on ``predict_dist``, for ``GridSearchCV`` and ``cross_validate``."""

from __future__ import annotations

from skebm.metrics._scoring_rules import crps, interval_coverage, negative_log_likelihood

__all__ = ["coverage_scorer", "crps_scorer", "nll_scorer", "predict_dist"]


class _DistributionScorer:
    """A scikit-learn scorer ``(estimator, X, y) -> float`` built on ``predict_dist``.

    Works on a bare estimator and on a :class:`~sklearn.pipeline.Pipeline` whose
    last step has ``predict_dist`` (the earlier steps transform ``X`` first).
    """

    def __init__(self, metric, sign: float, name: str) -> None:
        self._metric, self._sign, self._name = metric, sign, name

    def __call__(self, estimator, X, y_true, sample_weight=None) -> float:
        dist = predict_dist(estimator, X)
        return self._sign * self._metric(y_true, dist, sample_weight=sample_weight)

    def __repr__(self) -> str:
        return self._name


def predict_dist(estimator, X):
    """``estimator.predict_dist(X)``, also through a Pipeline ending in such an estimator.

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
    """
    steps = getattr(estimator, "steps", None)
    if steps is not None and not hasattr(estimator, "predict_dist"):
        for _, transformer in steps[:-1]:
            if transformer not in (None, "passthrough"):
                X = transformer.transform(X)
        estimator = steps[-1][1]
    if not hasattr(estimator, "predict_dist"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_dist; the skebm scorers need a skebm "
            "estimator or a Pipeline ending in one."
        )
    return estimator.predict_dist(X)


nll_scorer = _DistributionScorer(negative_log_likelihood, -1.0, "nll_scorer")
crps_scorer = _DistributionScorer(crps, -1.0, "crps_scorer")
coverage_scorer = _DistributionScorer(interval_coverage, 1.0, "coverage_scorer")
