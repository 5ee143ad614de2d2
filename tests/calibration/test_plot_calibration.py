"""skebm.plotting.plot_calibration: PIT histograms and calibration curves."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skebm.calibration import RecalibratedRegressor  # noqa: E402
from skebm.distributions import GaussianMixtureDistribution  # noqa: E402
from skebm.plotting import plot_calibration  # noqa: E402
from tests.calibration.helpers import WrongScaleRegressor, sample_data  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_calibration_plot_draws_raw_and_recalibrated_models(tmp_path):
    X, y = sample_data(1500, seed=0)
    X_test, y_test = sample_data(1500, seed=1)
    raw = WrongScaleRegressor(0.5).fit(X, y)
    fixed = RecalibratedRegressor(WrongScaleRegressor(0.5)).fit(X, y)
    hist_ax, curve_ax = plot_calibration(raw, X_test, y_test, recalibrated=fixed)
    raw_curve, fixed_curve = curve_ax.get_lines()[:2]
    levels = raw_curve.get_xdata()
    # the over-confident model's curve leaves the diagonal; the recalibrated one hugs it
    # (mean deviations; calibrated with 1500 points: about 0.01)
    assert np.mean(np.abs(raw_curve.get_ydata() - levels)) > 0.04
    assert np.mean(np.abs(fixed_curve.get_ydata() - levels)) < 0.025
    texts = [t.get_text() for t in curve_ax.get_legend().get_texts()]
    assert texts[0].startswith("raw (calibration error") and texts[1].startswith("recalibrated")
    assert len(hist_ax.patches) == 2  # one step histogram per model
    hist_ax.figure.savefig(tmp_path / "calibration.png")
    assert (tmp_path / "calibration.png").stat().st_size > 1000


def test_calibration_plot_draws_on_given_axes():
    X, y = sample_data(200, seed=2)
    _, axes = plt.subplots(1, 2)
    drawn = plot_calibration(WrongScaleRegressor(1.0).fit(X, y), X, y, axes=axes,
                             labels=["model"])
    assert drawn[0] is axes[0] and drawn[1] is axes[1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_bins=0), "n_bins"),
    (dict(labels=["a", "b"]), "labels"),
])
def test_calibration_plot_rejects_bad_arguments(kwargs, message):
    X, y = sample_data(50, seed=3)
    with pytest.raises(ValueError, match=message):
        plot_calibration(WrongScaleRegressor().fit(X, y), X, y, **kwargs)


def test_integer_targets_are_drawn_with_their_randomised_pit():
    # Integers k = rint(Z), Z ~ N(x, 0.3^2): the model N(x, 0.3^2) gives exactly the right
    # probabilities F(k + 1/2) - F(k - 1/2), but its plain PIT F(k) is far from uniform.
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=3000)
    y = np.rint(x + 0.3 * rng.normal(size=3000))
    model = GaussianMixtureDistribution(np.zeros((3000, 1)), x[:, None, None],
                                        np.full((3000, 1, 1), 0.3))
    deviations = {}
    for discrete in (False, True):
        _, curve_ax = plot_calibration(model, None, y, discrete=discrete, random_state=1)
        curve = curve_ax.get_lines()[0]
        deviations[discrete] = np.mean(np.abs(curve.get_ydata() - curve.get_xdata()))
    assert deviations[True] < 0.015  # measured 0.004
    assert deviations[False] > 0.04  # measured 0.063
