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

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from skebm import _crps
from skebm.datasets import gustafsson2020_log_density
from skebm.distributions import GaussianMixtureDistribution

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

# Added to the true density before normalising, as in the paper's protocol.
_TRUE_DENSITY_OFFSET = 1e-30
# Normalised model probabilities are clipped here, so that a model giving zero
# mass where the truth has some pays a large but finite price.
_MODEL_PROBABILITY_FLOOR = np.finfo(np.float64).tiny


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
        ``-mean_i log p_i(y_i)``; lower is better. ``inf`` when some target has
        zero predicted density.

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
    y_true = _check_targets(y_true, dist)
    weights = _check_sample_weight(sample_weight, len(y_true))
    log_density = np.asarray(dist.logpdf(y_true), dtype=np.float64)
    if np.isnan(log_density).any():
        raise ValueError("dist.logpdf returned NaN.")
    if np.isneginf(log_density).any():
        return float(np.inf)
    return float(-np.average(log_density, weights=weights))


def crps(y_true, dist, n_samples: int = 1000, random_state=0, *, sample_weight=None) -> float:
    """Mean continuous ranked probability score, estimated from samples.

    For a :class:`~skebm.distributions.GaussianMixtureDistribution` with 1-D
    targets (an exact mixture, e.g. a mixture density network's prediction) the
    CRPS is computed in closed form instead (Grimit et al., 2006), and
    ``n_samples`` and ``random_state`` are not used.

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
        Draws per row.
    random_state : int, RandomState instance or None, default=0
        Seed for the draws; fixed by default so that repeated scoring agrees.
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
    y_true = _check_targets(y_true, dist)
    weights = _check_sample_weight(sample_weight, len(y_true))
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


def interval_coverage(y_true, dist, confidence: float = 0.9, *, sample_weight=None) -> float:
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
    y_true = _check_targets(y_true, dist)
    weights = _check_sample_weight(sample_weight, len(y_true))
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a float in (0, 1), got {confidence!r}.")
    lower, upper = (np.asarray(bound, dtype=np.float64) for bound in dist.interval(confidence))
    inside = (y_true >= lower) & (y_true <= upper)
    if inside.ndim > 1:
        inside = inside.all(axis=tuple(range(1, inside.ndim)))
    return float(np.average(inside, weights=weights))


def kl_divergence_on_grid(true_log_density, model_log_density, y_grid) -> float:
    """KL(p_true || p_model) between densities discretised on a grid of targets.

    Each row holds one input x; both densities are exponentiated and normalised
    over the row's grid of y values, the true one after adding ``1e-30`` (the
    protocol of Gustafsson et al., 2020). On a non-uniform grid each point is
    weighted by its cell width; on a uniform grid (the protocol) the widths
    cancel. The KL divergence is summed over the grid and averaged over rows.
    Model probabilities are clipped from below at the smallest normal float64
    (about 2.2e-308) after normalising, so a model that puts zero mass (log
    density ``-inf``) where the truth has some gives a large finite KL instead
    of ``inf`` or NaN.

    Parameters
    ----------
    true_log_density : array-like of shape (n_x, n_y)
        Log of the true density at each (x, y) grid point; ``-inf`` allowed.
    model_log_density : array-like of shape (n_x, n_y)
        Log of the model density at the same points; ``-inf`` allowed.
    y_grid : array-like of shape (n_y,)
        Strictly increasing grid of targets the columns refer to.

    Returns
    -------
    float
        Mean over rows of the discretised KL divergence (nats), >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> from skebm.metrics import kl_divergence_on_grid
    >>> y_grid = np.linspace(-10, 10, 2001)
    >>> truth = norm.logpdf(y_grid, 0, 1)[None, :]
    >>> model = norm.logpdf(y_grid, 1, 1)[None, :]
    >>> round(kl_divergence_on_grid(truth, model, y_grid), 4)  # exact: 0.5
    0.5
    """
    y_grid = _as_float_array(y_grid, "y_grid")
    if y_grid.ndim != 1 or y_grid.size < 2:
        raise ValueError(f"y_grid must be 1-D with at least 2 points, got shape {y_grid.shape}.")
    if np.any(np.isinf(y_grid)) or np.any(np.diff(y_grid) <= 0):
        raise ValueError("y_grid must be finite and strictly increasing.")
    true_log_density = _check_log_density(true_log_density, "true_log_density", y_grid.size)
    model_log_density = _check_log_density(model_log_density, "model_log_density", y_grid.size)
    if true_log_density.shape != model_log_density.shape:
        raise ValueError(
            f"true_log_density has shape {true_log_density.shape} but model_log_density "
            f"has shape {model_log_density.shape}."
        )
    log_width = np.log(np.gradient(y_grid))
    true_mass = (np.exp(true_log_density) + _TRUE_DENSITY_OFFSET) * np.exp(log_width)
    true_probability = true_mass / true_mass.sum(axis=1, keepdims=True)
    model_probability = _normalise_log_mass(model_log_density + log_width)
    model_probability = np.maximum(model_probability, _MODEL_PROBABILITY_FLOOR)
    model_probability /= model_probability.sum(axis=1, keepdims=True)
    terms = true_probability * (np.log(true_probability) - np.log(model_probability))
    return float(np.mean(terms.sum(axis=1)))


def grid_negative_log_likelihood(
    y_true, dist, low: float, high: float, n_points: int = 8192
) -> float:
    """Mean NLL with each density normalised on a fixed 1-D grid (the paper's protocol).

    For every row the unnormalised log density is evaluated at ``n_points``
    evenly spaced targets in ``[low, high]``, normalised with the rectangle
    rule, and read off at the true target. This is how the paper scores
    energy-based models on its second toy set (8192 points in [-12.5, 12.5]);
    it makes models comparable whatever normaliser they use internally.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed 1-D targets.
    dist : distribution batch
        Anything with ``logpdf`` accepting ``(n,)`` and ``(n, k)`` points.
    low, high : float
        Grid range; should contain (nearly) all of the mass.
    n_points : int, default=8192
        Grid size.

    Returns
    -------
    float
        Mean negative log-likelihood (nats); lower is better.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> class StandardNormals:
    ...     def __init__(self, n): self.n = n
    ...     def __len__(self): return self.n
    ...     def logpdf(self, y): return norm.logpdf(y)
    >>> value = grid_negative_log_likelihood(np.zeros(3), StandardNormals(3), -10, 10)
    >>> round(value, 4)
    0.9189
    """
    y_true = _check_targets(y_true, dist)
    if y_true.ndim != 1:
        raise ValueError("grid_negative_log_likelihood needs 1-D targets, shape (n,).")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"Need finite low < high, got low={low!r}, high={high!r}.")
    if isinstance(n_points, bool) or not isinstance(n_points, Integral) or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}.")
    grid = np.linspace(low, high, int(n_points))
    on_grid = dist.logpdf(np.broadcast_to(grid, (len(y_true), grid.size)))
    log_normaliser = np.logaddexp.reduce(on_grid, axis=1) + np.log(grid[1] - grid[0])
    return float(np.mean(log_normaliser - dist.logpdf(y_true)))


def gustafsson2020_kl(estimator, n_grid: int = 2048) -> float:
    """KL(p_true || p_model) on the toy problem of :func:`~skebm.datasets.make_gustafsson2020`.

    The paper's metric: ``n_grid`` inputs evenly spaced in [-3, 3], each with
    ``n_grid`` targets evenly spaced in [-3, 3]; see :func:`kl_divergence_on_grid`.

    Parameters
    ----------
    estimator : fitted estimator
        Anything with ``predict_dist(X)`` whose result has ``logpdf`` accepting
        many points per row, ``(n, k)``.
    n_grid : int, default=2048
        Grid size along x and along y.

    Returns
    -------
    float
        Mean KL divergence over the x grid (nats); lower is better.

    Examples
    --------
    >>> from skebm.datasets import gustafsson2020_log_density
    >>> from skebm.metrics import gustafsson2020_kl
    >>> class Oracle:
    ...     def predict_dist(self, X): return OracleDist(X[:, 0])
    >>> class OracleDist:
    ...     def __init__(self, x): self.x = x
    ...     def logpdf(self, y): return gustafsson2020_log_density(self.x[:, None], y)
    >>> gustafsson2020_kl(Oracle(), n_grid=256) < 1e-12
    True
    """
    if isinstance(n_grid, bool) or not isinstance(n_grid, Integral) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2, got {n_grid!r}.")
    x_grid = np.linspace(-3.0, 3.0, int(n_grid))
    y_grid = np.linspace(-3.0, 3.0, int(n_grid))
    dist = estimator.predict_dist(x_grid.reshape(-1, 1))
    model_log_density = dist.logpdf(np.broadcast_to(y_grid, (n_grid, n_grid)))
    true_log_density = gustafsson2020_log_density(x_grid[:, None], y_grid[None, :])
    return kl_divergence_on_grid(true_log_density, model_log_density, y_grid)


# --------------------------------------------------------------------- scorers
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


# --------------------------------------------------------------------- helpers
def _normalise_log_mass(log_mass: np.ndarray) -> np.ndarray:
    """Exponentiate and normalise each row in a stable way; an all ``-inf`` row becomes 0."""
    row_max = log_mass.max(axis=1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    mass = np.exp(log_mass - row_max)
    total = mass.sum(axis=1, keepdims=True)
    return np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)


def _check_log_density(values, name: str, n_y: int) -> np.ndarray:
    values = _as_float_array(values, name)
    if values.ndim != 2 or values.shape[1] != n_y:
        raise ValueError(
            f"{name} must have shape (n_x, {n_y}) to match y_grid, got {values.shape}."
        )
    if np.isnan(values).any() or np.isposinf(values).any():
        raise ValueError(f"{name} contains NaN or +inf.")
    return values


def _check_targets(y_true, dist) -> np.ndarray:
    """Check targets against the batch of distributions; return float64 ``(n,)`` or ``(n, d)``."""
    y_true = _as_float_array(y_true, "y_true")
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


def _check_sample_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = _as_float_array(sample_weight, "sample_weight")
    if weights.shape != (n_rows,):
        raise ValueError(f"sample_weight must have shape ({n_rows},), got {weights.shape}.")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero.")
    return weights


def _as_float_array(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}.")
    return array.astype(np.float64, copy=False)
