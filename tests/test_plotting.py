"""skebm.plotting: conditional-density heat maps and predictive-interval plots."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import TINY

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection, QuadMesh  # noqa: E402

from skebm import EnergyRegressor  # noqa: E402
from skebm.datasets import gustafsson2020_log_density, make_gustafsson2020  # noqa: E402
from skebm.plotting import (  # noqa: E402
    plot_calibration,
    plot_conditional_density,
    plot_prediction_intervals,
)

FAST = dict(TINY, n_inference_samples=64)


@pytest.fixture(scope="module")
def toy():
    X, y = make_gustafsson2020(n_samples=200, random_state=0)
    return EnergyRegressor(**FAST).fit(X, y), X, y


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


# ------------------------------------------------------------ conditional density
def test_conditional_density_plot_writes_a_figure(toy, tmp_path):
    model, X, y = toy
    ax = plot_conditional_density(model, X=X, y=y, truth=gustafsson2020_log_density, n_grid=40)
    path = tmp_path / "density.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heat_map_shows_the_model_density_on_the_grid(toy):
    model, _, _ = toy
    ax = plot_conditional_density(model, x_range=(-3, 3), y_range=(-2, 2), n_grid=(30, 20))
    drawn = np.asarray(meshes(ax)[0].get_array()).reshape(20, 30)
    x_grid, y_grid = np.linspace(-3, 3, 30), np.linspace(-2, 2, 20)
    expected = model.predict_dist(x_grid[:, None]).pdf(np.broadcast_to(y_grid, (30, 20)))
    np.testing.assert_allclose(drawn, expected.T, rtol=1e-10)


def test_a_callable_log_density_is_drawn_like_a_model():
    ax = plot_conditional_density(gustafsson2020_log_density, x_range=(-3, 3), y_range=(-3, 3),
                                  n_grid=25)
    drawn = np.asarray(meshes(ax)[0].get_array()).reshape(25, 25)
    grid = np.linspace(-3, 3, 25)
    expected = np.exp(gustafsson2020_log_density(grid[:, None], grid[None, :]))
    np.testing.assert_allclose(drawn, expected.T)


def test_samples_and_truth_are_overlaid(toy):
    model, X, y = toy
    ax = plot_conditional_density(model, X=X, y=y, truth=gustafsson2020_log_density, n_grid=20)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1 and len(scatters[0].get_offsets()) == len(y)
    assert len(ax.collections) > 2  # heat map, contour lines of the truth, samples


def test_plot_ranges_default_to_the_samples_with_a_margin(toy):
    model, X, y = toy
    ax = plot_conditional_density(model, X=X, y=y, n_grid=10)
    low, high = ax.get_xlim()
    assert low < X.min() < X.max() < high
    assert ax.get_ylim()[0] < y.min()


def test_draws_on_a_given_axes_and_passes_colour_options(toy):
    model, _, _ = toy
    _, (left, right) = plt.subplots(1, 2)
    returned = plot_conditional_density(model, x_range=(-3, 3), y_range=(-3, 3), n_grid=10,
                                        ax=right, vmax=0.5, cmap="magma")
    assert returned is right and not meshes(left)
    assert meshes(right)[0].norm.vmax == 0.5
    assert meshes(right)[0].get_cmap().name == "magma"


def test_dataframe_fitted_model_is_queried_with_its_column_name():
    X, y = make_gustafsson2020(n_samples=100, random_state=1)
    model = EnergyRegressor(**FAST).fit(pd.DataFrame({"dose": X[:, 0]}), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_conditional_density(model, x_range=(-3, 3), y_range=(-3, 3), n_grid=10)


def test_conditional_density_needs_one_input_feature():
    rng = np.random.default_rng(0)
    model = EnergyRegressor(**FAST).fit(rng.normal(size=(50, 2)), rng.normal(size=50))
    with pytest.raises(ValueError, match="one input feature"):
        plot_conditional_density(model, x_range=(-1, 1), y_range=(-1, 1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"X": np.zeros((3, 1))}, "both X and y"),
        ({"x_range": (-1, 1)}, "y_range"),
        ({"x_range": (1, -1), "y_range": (0, 1)}, "x_range"),
        ({"x_range": (-1, 1), "y_range": (0, 1), "n_grid": 1}, "n_grid"),
    ],
)
def test_bad_arguments_are_named(toy, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_conditional_density(toy[0], **kwargs)


# ------------------------------------------------------------ prediction intervals
def test_interval_plot_writes_a_figure(toy, tmp_path):
    model, X, y = toy
    ax = plot_prediction_intervals(model, X, y)
    path = tmp_path / "intervals.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_interval_bands_span_the_predicted_intervals(toy):
    model, X, _ = toy
    ax = plot_prediction_intervals(model, X[:40], confidence=(0.5, 0.9))
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [band.get_label() for band in bands] == ["90% interval", "50% interval"]
    lower, upper = model.predict_dist(X[:40]).interval(0.9)
    vertices = bands[0].get_paths()[0].vertices
    assert vertices[:, 1].min() == pytest.approx(lower.min())
    assert vertices[:, 1].max() == pytest.approx(upper.max())
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), np.sort(X[:40, 0]))


def test_interval_plot_takes_a_dataframe_column_by_name():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(0, 1, 80), "income": rng.normal(size=80)})
    y = frame["age"] * 2 + rng.normal(scale=0.1, size=80)
    model = EnergyRegressor(**FAST).fit(frame, y)
    ax = plot_prediction_intervals(model, frame, y, feature="income", kind="bars")
    assert ax.get_xlabel() == "income"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.sort(frame["income"]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"confidence": 1.5}, "confidence"),
        ({"kind": "violin"}, "kind"),
        ({"feature": 3}, "feature"),
    ],
)
def test_interval_plot_rejects_bad_arguments(toy, kwargs, message):
    model, X, _ = toy
    with pytest.raises(ValueError, match=message):
        plot_prediction_intervals(model, X[:5], **kwargs)


# ------------------------------------------------------------ argument conventions
@pytest.mark.parametrize(
    "plot, positional",
    [
        (plot_conditional_density, ["model"]),
        (plot_prediction_intervals, ["model", "X", "y"]),
        (plot_calibration, ["model", "X", "y"]),
    ],
)
def test_plots_take_the_model_and_data_first_and_options_by_keyword(plot, positional):
    parameters = [p for p in inspect.signature(plot).parameters.values()
                  if p.kind is not p.VAR_KEYWORD]
    assert [p.name for p in parameters[: len(positional)]] == positional
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[: len(positional)])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[len(positional):])


def test_conditional_density_refuses_positional_ranges(toy):
    with pytest.raises(TypeError):
        plot_conditional_density(toy[0], (-3, 3), (-3, 3))


def test_interval_plot_predicts_through_a_pipeline(toy):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model, X, _ = toy
    shift = FunctionTransformer(lambda values: values - 1.0).fit(X)
    ax = plot_prediction_intervals(Pipeline([("shift", shift), ("model", model)]), X[:30] + 1.0)
    mean = model.predict_dist(X[:30]).mean()[np.argsort(X[:30, 0], kind="stable")]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), mean)
