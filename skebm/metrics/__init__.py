"""Metrics for predicted conditional distributions, and scikit-learn scorers.

Every metric takes the true targets and a batch of predicted distributions ``dist``,
as returned by ``estimator.predict_dist(X)`` (see
:class:`skebm.distributions.ConditionalDistribution`; any object with the
same methods works). The scorers (``nll_scorer``, ``crps_scorer``,
``coverage_scorer``) plug these metrics into ``GridSearchCV`` and
``cross_validate``; like every scikit-learn scorer, greater is better, so the
first two return minus the NLL and minus the CRPS. ``coverage_scorer`` returns the
coverage of the central 90% interval: report it, but do not select models by it
alone (wider intervals always cover more).
"""

import warnings

from skebm.metrics._grid import grid_negative_log_likelihood, kl_divergence_on_grid
from skebm.metrics._scorers import coverage_scorer, crps_scorer, nll_scorer
from skebm.metrics._scoring_rules import crps, interval_coverage, negative_log_likelihood
from skebm.metrics._toy import gustafsson2020_kl
from skebm.pipeline import predict_dist as _predict_dist

__all__ = [
    "coverage_scorer",
    "crps",
    "crps_scorer",
    "grid_negative_log_likelihood",
    "gustafsson2020_kl",
    "interval_coverage",
    "kl_divergence_on_grid",
    "negative_log_likelihood",
    "nll_scorer",
]


def __getattr__(name: str):
    # Deprecated location, kept for one release.
    if name == "predict_dist":
        warnings.warn(
            "skebm.metrics.predict_dist moved to skebm.pipeline.predict_dist; the old "
            "name will be removed in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return _predict_dist
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
