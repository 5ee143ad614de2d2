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

from skebm.metrics._grid import grid_negative_log_likelihood, kl_divergence_on_grid
from skebm.metrics._scorers import coverage_scorer, crps_scorer, nll_scorer, predict_dist
from skebm.metrics._scoring_rules import crps, interval_coverage, negative_log_likelihood
from skebm.metrics._toy import gustafsson2020_kl

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
    "predict_dist",
]
