"""Plots of predicted conditional distributions and of their calibration.

Needs matplotlib, an optional dependency: ``pip install "skebm[plot]"``.
Every function draws on a given matplotlib ``Axes`` (or a new figure when
``ax`` is None) and returns that ``Axes``, so plots compose with
``plt.subplots``. Every function takes the fitted ``model`` first, then the
data the plot needs (``X``, ``y``) and then keyword-only options.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from skebm.pipeline import predict_dist

__all__ = ["plot_calibration", "plot_conditional_density", "plot_prediction_intervals"]

_RANGE_MARGIN = 0.05


def plot_conditional_density(
    model,
    *,
    X=None,
    y=None,
    x_range=None,
    y_range=None,
    truth=None,
    n_grid=200,
    ax=None,
    scatter_kwargs=None,
    contour_kwargs=None,
    **mesh_kwargs,
):
    """Heat map of a conditional density p(y | x) over a one-dimensional input.

    Evaluates the density on an ``n_grid`` by ``n_grid`` grid of (x, y) and draws
    it with ``pcolormesh``; optionally scatters samples (e.g. the training data)
    and overlays the contour lines of a known true density.

    Parameters
    ----------
    model : fitted estimator or callable
        An estimator with ``predict_dist`` fitted on one input feature (e.g. a
        fitted :class:`~skebm.EnergyRegressor`), or a log density
        ``log_density(x, y)`` that broadcasts its arguments, such as
        :func:`skebm.datasets.gustafsson2020_log_density` (to draw a known
        density the same way).
    X : array-like of shape (n_samples, 1) or (n_samples,), optional
        Inputs of samples to scatter.
    y : array-like of shape (n_samples,), optional
        Targets of the samples to scatter, together with ``X``.
    x_range, y_range : tuple of float, optional
        Plotted ranges ``(low, high)``. By default the range of ``X`` (of ``y``)
        plus a 5% margin; required when ``X`` (``y``) is not given.
    truth : callable, optional
        A true log density ``log_density(x, y)`` (broadcasting) drawn as contour
        lines over the heat map.
    n_grid : int or tuple of int, default=200
        Grid points along x and y (one int for both, or ``(n_x, n_y)``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    scatter_kwargs : dict, optional
        Keyword arguments of ``ax.scatter`` for the samples.
    contour_kwargs : dict, optional
        Keyword arguments of ``ax.contour`` for the truth.
    **mesh_kwargs
        Passed to ``ax.pcolormesh`` (e.g. ``cmap``, ``vmax`` to share a colour
        scale between panels, or ``norm``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; the density is its first ``QuadMesh``.

    Examples
    --------
    >>> from skebm import EnergyRegressor
    >>> from skebm.datasets import make_gustafsson2020, gustafsson2020_log_density
    >>> from skebm.plotting import plot_conditional_density
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = EnergyRegressor(max_epochs=1, n_noise_samples=16, random_state=0).fit(X, y)
    >>> ax = plot_conditional_density(model, X=X, y=y, truth=gustafsson2020_log_density,
    ...                               n_grid=50)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('x', 'y')
    """
    pyplot = _pyplot()
    n_x, n_y = _grid_sizes(n_grid)
    if (X is None) != (y is None):
        raise ValueError("Pass both X and y to scatter samples, or neither.")
    inputs = None if X is None else _one_feature(np.asarray(X, dtype=np.float64), "X")
    targets = None if y is None else np.asarray(y, dtype=np.float64).reshape(-1)
    if inputs is not None and len(inputs) != len(targets):
        raise ValueError(f"X has {len(inputs)} rows but y has {len(targets)}.")
    x_range = _plot_range(x_range, inputs, "x_range", "X")
    y_range = _plot_range(y_range, targets, "y_range", "y")
    x_grid = np.linspace(*x_range, n_x)
    y_grid = np.linspace(*y_range, n_y)

    if ax is None:
        _, ax = pyplot.subplots()
    density = np.exp(_log_density_on_grid(model, x_grid, y_grid))  # (n_x, n_y)
    mesh = ax.pcolormesh(x_grid, y_grid, density.T, **{"shading": "auto", **mesh_kwargs})
    if truth is not None:
        true_density = np.exp(_log_density_on_grid(truth, x_grid, y_grid))
        contour = {"levels": 4, "colors": "white", "linewidths": 0.7, **(contour_kwargs or {})}
        ax.contour(x_grid, y_grid, true_density.T, **contour)
    if inputs is not None:
        scatter = {"s": 2, "color": "white", "alpha": 0.4, "linewidths": 0,
                   **(scatter_kwargs or {})}
        ax.scatter(inputs, targets, **scatter)
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.figure.colorbar(mesh, ax=ax, label="p(y | x)")
    return ax


def plot_prediction_intervals(
    model,
    X,
    y=None,
    *,
    feature=0,
    confidence=(0.5, 0.9),
    kind="band",
    ax=None,
):
    """Central predictive intervals and the predicted mean along one input feature.

    Parameters
    ----------
    model : fitted estimator or Pipeline
        Has ``predict_dist`` (or is a Pipeline ending in such an estimator)
        returning distributions of a 1-D target with ``interval`` and
        ``mean``.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Inputs at which to predict.
    y : array-like of shape (n_samples,), optional
        Observed targets, scattered for comparison.
    feature : int or str, default=0
        The feature on the horizontal axis: a column index, or a column name
        when ``X`` is a DataFrame.
    confidence : float or sequence of float, default=(0.5, 0.9)
        Mass of each central interval, in (0, 1).
    kind : {"band", "bars"}, default="band"
        ``"band"`` fills between the bounds along the sorted feature (suited to
        one input feature or a smooth path through input space); ``"bars"``
        draws one error bar per row (suited to several input features, where
        neighbouring rows along one feature need not be similar).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> from skebm import EnergyRegressor
    >>> from skebm.datasets import make_gustafsson2020
    >>> from skebm.plotting import plot_prediction_intervals
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = EnergyRegressor(max_epochs=1, n_noise_samples=16, random_state=0).fit(X, y)
    >>> ax = plot_prediction_intervals(model, X[:50], y[:50], confidence=0.9)
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['90% interval', 'mean', 'observed']
    """
    pyplot = _pyplot()
    levels = sorted(_confidences(confidence), reverse=True)  # widest first, drawn below
    if kind not in ("band", "bars"):
        raise ValueError(f"kind must be 'band' or 'bars', got {kind!r}.")
    values, label = _feature_values(X, feature)
    dist = predict_dist(model, X)
    if getattr(dist, "target_dim", 1) != 1:
        raise ValueError("plot_prediction_intervals needs a model of a 1-D target.")
    targets = None if y is None else np.asarray(y, dtype=np.float64).reshape(-1)
    if targets is not None and len(targets) != len(values):
        raise ValueError(f"X has {len(values)} rows but y has {len(targets)}.")

    if ax is None:
        _, ax = pyplot.subplots()
    order = np.argsort(values, kind="stable")
    xs, mean = values[order], np.asarray(dist.mean())[order]
    for rank, level in enumerate(levels):
        lower, upper = (np.asarray(bound)[order] for bound in dist.interval(level))
        alpha = 0.2 + 0.25 * rank / max(1, len(levels) - 1)
        name = f"{level:.0%} interval"
        if kind == "band":
            ax.fill_between(xs, lower, upper, color="C0", alpha=alpha, linewidth=0, label=name)
        else:
            ax.errorbar(xs, mean, yerr=(mean - lower, upper - mean), fmt="none",
                        ecolor="C0", alpha=alpha + 0.2, elinewidth=1 + 2 * rank, label=name)
    if kind == "band":
        ax.plot(xs, mean, color="C0", linewidth=1.5, label="mean")
    else:
        ax.plot(xs, mean, "o", color="C0", markersize=3, label="mean")
    if targets is not None:
        ax.scatter(xs, targets[order], s=6, color="black", alpha=0.6, label="observed", zorder=3)
    ax.set_xlabel(label)
    ax.set_ylabel("y")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_calibration(model, X, y, *, recalibrated=None, n_bins=20, labels=None, axes=None,
                     discrete=False, random_state=0):
    """PIT histogram and calibration curve on held-out data, raw beside recalibrated.

    The left panel is the histogram of the probability integral transform
    ``F(y_i | x_i)`` (flat at 1 for a calibrated model; U-shaped for an
    over-confident one, peaked for an under-confident one). The right panel is
    the calibration curve: for each nominal level ``p``, the observed fraction
    of targets below their predicted ``p``-quantile, which a calibrated model
    keeps on the diagonal. The legend gives each model's calibration error
    (:func:`skebm.calibration.calibration_error`).

    Parameters
    ----------
    model : fitted estimator, Pipeline or ConditionalDistribution
        The model to diagnose (with ``predict_dist``), or its predicted
        distributions for ``X``; 1-D targets.
    X : array-like or None
        Held-out inputs (None when ``model`` is a distribution).
    y : array-like of shape (n_samples,)
        Held-out targets.
    recalibrated : fitted estimator or ConditionalDistribution, optional
        A second model drawn beside the first, e.g. a
        :class:`~skebm.calibration.RecalibratedRegressor`.
    n_bins : int, default=20
        Bins of the PIT histogram.
    labels : tuple of str, optional
        Legend labels of the models; ``("raw", "recalibrated")`` by default.
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new figure with two panels by default.
    discrete : bool, default=False
        ``y`` holds integers of models fitted on ``k + U(-1/2, 1/2)``: plot
        their randomised PIT (``pit(..., discrete=True)``), which is uniform
        when the probabilities of the integers are calibrated.
    random_state : int, Generator or None, default=0
        Seed of the randomised PIT (unused without ``discrete``); an int
        gives both models the same uniforms, so their panels differ only by
        the models.

    Returns
    -------
    ndarray of two matplotlib Axes
        The histogram and the calibration curve.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> from skebm.plotting import plot_calibration
    >>> y = np.random.default_rng(0).normal(size=500)
    >>> too_narrow = GaussianMixtureDistribution(np.zeros((500, 1)), np.zeros((500, 1, 1)),
    ...                                          np.full((500, 1, 1), 0.5))
    >>> hist_ax, curve_ax = plot_calibration(too_narrow, None, y)
    >>> curve_ax.get_xlabel()
    'nominal level p'
    """
    from skebm.calibration import calibration_error, pit

    pyplot = _pyplot()
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    models = [model] if recalibrated is None else [model, recalibrated]
    labels = list(labels) if labels is not None else ["raw", "recalibrated"][: len(models)]
    if len(labels) != len(models):
        raise ValueError(f"labels must name {len(models)} model(s), got {labels!r}.")
    if axes is None:
        _, axes = pyplot.subplots(1, 2, figsize=(9, 3.6))
    hist_ax, curve_ax = axes
    levels = np.linspace(0.0, 1.0, 201)
    for index, (current, label) in enumerate(zip(models, labels)):
        is_model = hasattr(current, "predict_dist") or hasattr(current, "steps")
        dist = predict_dist(current, X) if is_model else current
        values = pit(y, dist, discrete=discrete, random_state=random_state)
        if values.ndim != 1:
            raise ValueError("plot_calibration needs a model of a 1-D target.")
        name = f"{label} (calibration error {calibration_error(values):.3f})"
        color = f"C{index}"
        hist_ax.hist(values, bins=n_bins, range=(0, 1), density=True, histtype="step",
                     linewidth=1.8, color=color, label=label)
        observed = np.searchsorted(np.sort(values), levels, side="right") / len(values)
        curve_ax.plot(levels, observed, color=color, linewidth=1.8, label=name)
    hist_ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="calibrated")
    hist_ax.set_xlabel("PIT value F(y | x)")
    hist_ax.set_ylabel("density")
    hist_ax.set_xlim(0, 1)
    hist_ax.legend(loc="upper center", fontsize="small")
    curve_ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
    curve_ax.set_xlabel("nominal level p")
    curve_ax.set_ylabel("observed fraction of PIT <= p")
    curve_ax.set_xlim(0, 1)
    curve_ax.set_ylim(0, 1)
    curve_ax.legend(loc="upper left", fontsize="small")
    return np.asarray([hist_ax, curve_ax], dtype=object)


# --------------------------------------------------------------------- helpers
def _pyplot():
    try:
        import matplotlib.pyplot as pyplot
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            'skebm.plotting needs matplotlib; install it with `pip install "skebm[plot]"`.'
        ) from error
    return pyplot


def _log_density_on_grid(model, x_grid: np.ndarray, y_grid: np.ndarray) -> np.ndarray:
    """log p(y | x) at every grid pair, ``(n_x, n_y)``."""
    if hasattr(model, "predict_dist"):
        n_features = getattr(model, "n_features_in_", 1)
        if n_features != 1:
            raise ValueError(
                f"plot_conditional_density needs a model of one input feature; this one has "
                f"{n_features}. Use plot_prediction_intervals along one feature instead."
            )
        dist = model.predict_dist(_as_model_input(model, x_grid))
        if getattr(dist, "target_dim", 1) != 1:
            raise ValueError("plot_conditional_density needs a model of a 1-D target.")
        values = dist.logpdf(np.broadcast_to(y_grid, (len(x_grid), len(y_grid))))
    elif callable(model):
        values = model(x_grid[:, None], y_grid[None, :])
    else:
        raise TypeError(
            "model must be a fitted estimator with predict_dist or a callable "
            f"log_density(x, y), got {type(model).__name__}."
        )
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(x_grid), len(y_grid)):
        raise ValueError(
            f"The log density has shape {values.shape}; expected {(len(x_grid), len(y_grid))}."
        )
    return values


def _as_model_input(model, x_grid: np.ndarray):
    """The x grid as one column, named like the training column when there was a name."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return x_grid.reshape(-1, 1)
    import pandas as pd

    return pd.DataFrame({names[0]: x_grid})


def _one_feature(values: np.ndarray, name: str) -> np.ndarray:
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim == 1:
        return values
    raise ValueError(f"{name} must have one feature, shape (n,) or (n, 1); got {values.shape}.")


def _plot_range(plot_range, values, name: str, data_name: str) -> tuple[float, float]:
    if plot_range is None:
        if values is None or len(values) == 0:
            raise ValueError(f"Pass {name}, or {data_name} to take the range from.")
        low, high = float(np.min(values)), float(np.max(values))
        margin = _RANGE_MARGIN * (high - low) if high > low else 1.0
        return low - margin, high + margin
    low, high = (float(bound) for bound in plot_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite (low, high) with low < high, got {plot_range!r}.")
    return low, high


def _grid_sizes(n_grid) -> tuple[int, int]:
    sizes = (n_grid, n_grid) if isinstance(n_grid, Integral) else tuple(n_grid)
    if len(sizes) != 2 or not all(
        isinstance(size, Integral) and not isinstance(size, bool) and size >= 2 for size in sizes
    ):
        raise ValueError(f"n_grid must be an integer >= 2 or a pair of them, got {n_grid!r}.")
    return int(sizes[0]), int(sizes[1])


def _confidences(confidence) -> list[float]:
    levels = [confidence] if isinstance(confidence, Real) else list(confidence)
    if not levels or not all(
        isinstance(level, Real) and not isinstance(level, bool) and 0 < level < 1
        for level in levels
    ):
        raise ValueError(f"confidence must be a float in (0, 1) or a sequence of them, "
                         f"got {confidence!r}.")
    return [float(level) for level in levels]


def _feature_values(X, feature) -> tuple[np.ndarray, str]:
    """The chosen feature's values ``(n,)`` and an axis label."""
    columns = getattr(X, "columns", None)
    if columns is not None:
        if isinstance(feature, str):
            if feature not in columns:
                raise ValueError(f"X has no column {feature!r}.")
            return np.asarray(X[feature], dtype=np.float64), feature
        if isinstance(feature, Integral) and 0 <= feature < len(columns):
            return np.asarray(X.iloc[:, feature], dtype=np.float64), str(columns[feature])
        raise ValueError(f"feature must be a column name or index of X, got {feature!r}.")
    values = np.asarray(X)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if isinstance(feature, bool) or not isinstance(feature, Integral) or not (
        0 <= feature < values.shape[1]
    ):
        raise ValueError(
            f"feature must be a column index in [0, {values.shape[1]}), got {feature!r}."
        )
    label = "x" if values.shape[1] == 1 else f"feature {feature}"
    return values[:, feature].astype(np.float64), label
