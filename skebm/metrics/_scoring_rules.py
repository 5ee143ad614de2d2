"""Proper scoring rules for a batch of predicted distributions: NLL, CRPS, coverage."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from skebm import _crps
from skebm._validation import as_float_array, check_sample_weight, weighted_mean
from skebm.distributions import GaussianMixtureDistribution

__all__ = ["check_targets", "crps", "interval_coverage", "negative_log_likelihood"]


def negative_log_likelihood(y_true, dist, *, sample_weight=None) -> float:
    """Mean negative log-likelihood of the targets under the predicted distributions.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        True targets, one row per distribution.
    dist : ConditionalDistribution
        Batch of ``n`` predicted distributions, e.g. ``estimator.predict_dist(X)``.
    sample_weight : array-like of shape (n,), default=None
        Row weights; ``None`` weighs rows equally.

    Returns
    -------
    float
        ``-mean_i log p_i(y_i)``; lower is better. ``inf`` when some target of
        positive weight has zero predicted density.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.metrics import negative_log_likelihood
    >>> class StandardNormals:
    ...     def __init__(self, n): self.n = n
    ...     def __len__(self): return self.n
    ...     def logpdf(self, y): return -0.5 * np.log(2 * np.pi) - 0.5 * np.asarray(y) ** 2
    >>> round(negative_log_likelihood(np.zeros(3), StandardNormals(3)), 4)
    0.9189
    """
    y_true = check_targets(y_true, dist)
    log_density = np.asarray(dist.logpdf(y_true), dtype=np.float64)
    if np.isnan(log_density).any():
        raise ValueError("dist.logpdf returned NaN.")
    return -weighted_mean(log_density, sample_weight)


def crps(y_true, dist, *, n_samples: int = 1000, random_state=0, sample_weight=None) -> float:
    """Mean continuous ranked probability score, estimated from samples.

    For a :class:`~skebm.distributions.GaussianMixtureDistribution` with 1-D
    targets (an exact mixture, e.g. the prediction of
    :class:`~skebm.DistilledMDNRegressor`) the CRPS is computed in closed form
    instead (Grimit et al., 2006), and ``n_samples`` and ``random_state`` are
    not used. Every other distribution (e.g. that of
    :class:`~skebm.EnergyRegressor`) is scored from ``n_samples`` draws per
    row, seeded by ``random_state``.

    For 1-D targets this is the CRPS of the empirical distribution of
    ``n_samples`` draws per row, computed with ``properscoring.crps_ensemble``
    when numba is installed (its fast path); without numba that function needs
    ``O(n * n_samples^2)`` memory and time, so the same quantity is then computed
    from the sorted draws in ``O(n * n_samples log n_samples)``.
    For ``d > 1`` it is its multivariate generalisation, the energy score
    ``E||X - y|| - 1/2 E||X - X'||`` (Euclidean norm), with both expectations
    taken over the same empirical distribution (all pairs of draws, as
    ``crps_ensemble`` does), so that ``d = 1`` gives the CRPS again.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        True targets.
    dist : ConditionalDistribution
        Batch of ``n`` predicted distributions.
    n_samples : int, default=1000
        Draws per row. The sampling error of the mean score shrinks like
        ``1 / sqrt(n * n_samples)``.
    random_state : int, RandomState instance or None, default=0
        Seed of the draws, passed to ``dist.sample``. The fixed default makes
        the score deterministic: scoring the same distributions twice gives
        the same value, as for every other metric. ``None`` draws fresh
        randomness each call.
    sample_weight : array-like of shape (n,), default=None
        Row weights.

    Returns
    -------
    float
        Mean score, in the units of the targets; lower is better.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.metrics import crps
    >>> class PointMasses:
    ...     def __init__(self, values): self.values = np.asarray(values, dtype=float)
    ...     def __len__(self): return len(self.values)
    ...     def sample(self, n_samples=1, random_state=None):
    ...         return np.repeat(self.values[:, None], n_samples, axis=1)
    >>> crps(np.array([0.0, 1.0]), PointMasses([1.0, 3.0]), n_samples=10)
    1.5
    """
    y_true = check_targets(y_true, dist)
    weights = check_sample_weight(sample_weight, len(y_true))
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if isinstance(dist, GaussianMixtureDistribution) and y_true.ndim == 1:
        scores = _crps.gaussian_mixture_crps(
            y_true, dist.weights, dist.means[..., 0], dist.stds[..., 0]
        )
        return float(np.average(scores, weights=weights))
    draws = np.asarray(dist.sample(int(n_samples), random_state=random_state), dtype=np.float64)
    if np.isnan(draws).any():
        raise ValueError("dist.sample returned NaN.")
    expected = (len(y_true), int(n_samples)) + y_true.shape[1:]
    if draws.shape != expected:
        raise ValueError(f"dist.sample returned shape {draws.shape}, expected {expected}.")
    if y_true.ndim == 1:
        scores = _crps.ensemble_crps(y_true, draws)
    else:
        scores = _crps.energy_score(y_true, draws)
    return float(np.average(scores, weights=weights))


def interval_coverage(y_true, dist, *, confidence: float = 0.9, sample_weight=None) -> float:
    """Fraction of targets inside the central ``confidence`` interval of their distribution.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, d)
        True targets.
    dist : ConditionalDistribution
        Batch of ``n`` predicted distributions; ``dist.interval(confidence)`` gives
        the bounds.
    confidence : float, default=0.9
        Nominal mass of the interval, in (0, 1).
    sample_weight : array-like of shape (n,), default=None
        Row weights.

    Returns
    -------
    float
        Observed coverage; a calibrated model gives about ``confidence``. For
        ``d > 1`` a row counts as covered when every dimension lies inside its
        marginal interval (so the nominal joint coverage is lower than
        ``confidence``).

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.metrics import interval_coverage
    >>> class UnitIntervals:
    ...     def __init__(self, n): self.n = n
    ...     def __len__(self): return self.n
    ...     def interval(self, confidence): return -np.ones(self.n), np.ones(self.n)
    >>> interval_coverage(np.array([0.0, 0.5, 2.0, -3.0]), UnitIntervals(4))
    0.5
    """
    y_true = check_targets(y_true, dist)
    weights = check_sample_weight(sample_weight, len(y_true))
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a float in (0, 1), got {confidence!r}.")
    lower, upper = (np.asarray(bound, dtype=np.float64) for bound in dist.interval(confidence))
    inside = (y_true >= lower) & (y_true <= upper)
    if inside.ndim > 1:
        inside = inside.all(axis=tuple(range(1, inside.ndim)))
    return float(np.average(inside, weights=weights))



def check_targets(y_true, dist) -> np.ndarray:
    """Check targets against the batch of distributions; return float64 ``(n,)`` or ``(n, d)``."""
    y_true = as_float_array(y_true, "y_true")
    if y_true.ndim == 2 and y_true.shape[1] == 1 and getattr(dist, "target_dim", 1) == 1:
        y_true = y_true[:, 0]
    if y_true.ndim not in (1, 2):
        raise ValueError(f"y_true must have shape (n,) or (n, d), got {y_true.shape}.")
    if not np.all(np.isfinite(y_true)):
        raise ValueError("y_true contains NaN or infinity.")
    if y_true.shape[0] != len(dist):
        raise ValueError(
            f"y_true has {y_true.shape[0]} rows but dist holds {len(dist)} distributions."
        )
    return y_true
