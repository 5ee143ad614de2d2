"""scikit-learn scorers built on ``predict_dist``, for ``GridSearchCV`` and ``cross_validate``."""

from __future__ import annotations

from skebm.metrics._scoring_rules import crps, interval_coverage, negative_log_likelihood
from skebm.pipeline import predict_dist

__all__ = ["coverage_scorer", "crps_scorer", "nll_scorer"]


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


nll_scorer = _DistributionScorer(negative_log_likelihood, -1.0, "nll_scorer")
crps_scorer = _DistributionScorer(crps, -1.0, "crps_scorer")
coverage_scorer = _DistributionScorer(interval_coverage, 1.0, "coverage_scorer")
