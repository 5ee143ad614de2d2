"""Tests for skebm.datasets: shapes, reproducibility, and agreement with ground truth."""

import os
from pathlib import Path

import numpy as np
import pandas
import pytest
from scipy import stats

from skebm.datasets import (
    _BRANDO_BOUNDARIES,
    _BRANDO_MODES,
    _BRANDO_RELATIVE_STD,
    _brando2019_log_density,
    _brando_band,
    _brando_wave,
    gustafsson2020_log_density,
    make_blob_images,
    make_brando2019,
    make_gustafsson2020,
)

GENERATORS = [make_gustafsson2020, make_brando2019]


def _shared_data_dir() -> Path | None:
    """The shared CSV folder: $SKEBM_SHARED_DATA, else ../../shared/data from here."""
    configured = os.environ.get("SKEBM_SHARED_DATA")
    if configured:
        folder = Path(configured)
    else:
        folder = Path(__file__).resolve().parents[2] / "shared" / "data"
    return folder if folder.is_dir() else None


def _load_csv(name: str) -> tuple[np.ndarray, np.ndarray]:
    folder = _shared_data_dir()
    path = None if folder is None else folder / name
    if path is None or not path.is_file():
        pytest.skip(f"shared data file {name} is not available")
    frame = pandas.read_csv(path)
    return frame["x"].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float)


def _brando_shared_data() -> tuple[np.ndarray, np.ndarray]:
    x_parts, y_parts = zip(
        *(_load_csv(f"toy_brando2019_{split}.csv") for split in ("train", "val", "test")),
        strict=True,
    )
    return np.concatenate(x_parts), np.concatenate(y_parts)


def _histogram_kl(samples: np.ndarray, density, edges: np.ndarray) -> float:
    """KL(histogram || density binned on the same edges) in nats."""
    counts, _ = np.histogram(samples, bins=edges)
    empirical = counts / counts.sum()
    fine = np.linspace(edges[0], edges[-1], 50 * (len(edges) - 1) + 1)
    midpoints = 0.5 * (fine[1:] + fine[:-1])
    mass = density(midpoints) * np.diff(fine)
    binned = mass.reshape(len(edges) - 1, 50).sum(axis=1)
    binned = binned / binned.sum()
    keep = empirical > 0
    return float(np.sum(empirical[keep] * np.log(empirical[keep] / binned[keep])))


# ---------------------------------------------------------------- both generators
@pytest.mark.parametrize("make", GENERATORS)
def test_generator_returns_float64_column_and_vector(make):
    X, y = make(n_samples=37, random_state=0)
    assert X.shape == (37, 1) and y.shape == (37,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_is_reproducible_with_random_state(make):
    first = make(n_samples=50, random_state=3)
    second = make(n_samples=50, random_state=3)
    other = make(n_samples=50, random_state=4)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.allclose(first[1], other[1])


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_accepts_random_state_instance(make):
    X_seeded, y_seeded = make(n_samples=20, random_state=5)
    X, y = make(n_samples=20, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(X, X_seeded)
    np.testing.assert_array_equal(y, y_seeded)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n_samples", [0, -3, 2.5, True, "10", None])
def test_generator_rejects_invalid_n_samples(make, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        make(n_samples=n_samples)


@pytest.mark.parametrize("make", GENERATORS)
def test_generator_accepts_numpy_integer_n_samples(make):
    X, _ = make(n_samples=np.int64(4), random_state=0)
    assert X.shape == (4, 1)


# ---------------------------------------------------------------- Gustafsson 2020
def test_gustafsson_inputs_are_uniform_on_minus_three_three():
    X, _ = make_gustafsson2020(n_samples=40_000, random_state=0)
    x = X[:, 0]
    assert x.min() >= -3 and x.max() <= 3
    assert stats.kstest(x, stats.uniform(-3, 6).cdf).pvalue > 1e-3


def test_gustafsson_log_normal_branch_has_the_stated_moments():
    X, y = make_gustafsson2020(n_samples=40_000, random_state=1)
    log_shifted = np.log1p(y[X[:, 0] >= 0])
    standard_error = 0.25 / np.sqrt(log_shifted.size)
    assert abs(log_shifted.mean()) < 4 * standard_error
    assert abs(log_shifted.std() - 0.25) < 0.01


def test_gustafsson_mixture_branch_has_weights_and_spread():
    X, y = make_gustafsson2020(n_samples=40_000, random_state=2)
    x = X[:, 0]
    separated = (x < 0) & (np.abs(np.sin(x)) > 0.4)  # components 10 sigma apart
    near_first = np.abs(y[separated] - np.sin(x[separated])) < 0.4
    share = near_first.mean()
    assert abs(share - 0.8) < 4 * np.sqrt(0.8 * 0.2 / separated.sum())
    residual = np.where(near_first, y[separated] - np.sin(x[separated]), 0.0)
    assert abs(residual[near_first].std() - 0.075) < 0.003


@pytest.mark.parametrize("x", [-2.5, -1.2, -0.05, 0.0, 0.7, 2.9])
def test_gustafsson_density_integrates_to_one(x):
    y_grid = np.linspace(-3.0, 8.0, 110_001)
    density = np.exp(gustafsson2020_log_density(x, y_grid))
    assert np.trapezoid(density, y_grid) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("x_range", [(-2.2, -2.0), (-0.6, -0.5), (-0.1, 0.0), (0.0, 3.0)])
def test_gustafsson_density_matches_histogram_of_samples(x_range):
    X, y = make_gustafsson2020(n_samples=300_000, random_state=4)
    low, high = x_range
    inside = (X[:, 0] >= low) & (X[:, 0] < high)
    x_in_bin = np.linspace(low, high, 41)[:-1] + (high - low) / 80

    def bin_density(points):
        return np.exp(gustafsson2020_log_density(x_in_bin[:, None], points[None, :])).mean(0)

    edges = np.linspace(-1.5, 4.0, 276)
    assert inside.sum() > 4_000
    assert _histogram_kl(y[inside], bin_density, edges) < 0.02


def test_gustafsson_density_rejects_a_wrong_branch():
    # The histogram check above is sensitive: swapping the mixture weights fails it.
    X, y = make_gustafsson2020(n_samples=300_000, random_state=4)
    inside = (X[:, 0] >= -2.2) & (X[:, 0] < -2.0)

    def swapped(points):
        x = -2.1
        return 0.2 * stats.norm.pdf(points, np.sin(x), 0.075) + 0.8 * stats.norm.pdf(
            points, -np.sin(x), 0.075
        )

    assert _histogram_kl(y[inside], swapped, np.linspace(-1.5, 4.0, 276)) > 0.3


def test_gustafsson_density_is_zero_below_minus_one_for_nonnegative_x():
    log_density = gustafsson2020_log_density(np.array([0.0, 1.0, 3.0]), -1.0)
    assert np.all(np.isneginf(log_density))
    assert np.all(np.isfinite(gustafsson2020_log_density(-1.0, np.array([-1.0, -5.0]))))


def test_gustafsson_density_broadcasts_x_against_y():
    x = np.array([-1.0, 0.5, 2.0])
    y = np.linspace(-0.5, 0.5, 4)
    grid = gustafsson2020_log_density(x[:, None], y[None, :])
    assert grid.shape == (3, 4) and grid.dtype == np.float64
    assert grid[1, 2] == pytest.approx(float(gustafsson2020_log_density(x[1], y[2])))


def test_gustafsson_density_matches_closed_form_at_a_point():
    x, y = -1.0, 0.9
    expected = 0.8 * stats.norm.pdf(y, np.sin(x), 0.075) + 0.2 * stats.norm.pdf(
        y, -np.sin(x), 0.075
    )
    assert np.exp(gustafsson2020_log_density(x, y)) == pytest.approx(expected, rel=1e-12)
    expected = stats.lognorm.pdf(0.5 + 1, s=0.25)
    assert np.exp(gustafsson2020_log_density(1.0, 0.5)) == pytest.approx(expected, rel=1e-12)


def test_gustafsson_density_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        gustafsson2020_log_density(np.nan, 0.0)


@pytest.mark.parametrize("branch", ["mixture", "log_normal"])
def test_gustafsson_generator_matches_shared_data(branch):
    x_data, y_data = _load_csv("toy_gustafsson2020_train.csv")
    X, y = make_gustafsson2020(n_samples=20_000, random_state=0)
    pick_data = x_data < 0 if branch == "mixture" else x_data >= 0
    pick = X[:, 0] < 0 if branch == "mixture" else X[:, 0] >= 0
    assert stats.ks_2samp(y_data[pick_data], y[pick]).pvalue > 1e-3


# ---------------------------------------------------------------- Brando 2019
def _regime(x: np.ndarray) -> np.ndarray:
    return np.searchsorted(_BRANDO_BOUNDARIES, x, side="right")


def test_brando_inputs_are_uniform_on_unit_interval():
    X, _ = make_brando2019(n_samples=20_000, random_state=0)
    assert X.min() >= 0 and X.max() <= 1
    assert stats.kstest(X[:, 0], "uniform").pvalue > 1e-3


def test_brando_asymmetric_regime_is_a_scaled_beta():
    X, y = make_brando2019(n_samples=100_000, random_state=1)
    values = y[_regime(X[:, 0]) == 0]
    assert values.min() >= 0.5 and values.max() <= 5.5
    # 0.5 + 5 Beta(0.5, 1): mean 0.5 + 5/3, standard deviation 5 sqrt(0.5 / 5.625)
    assert values.mean() == pytest.approx(0.5 + 5 / 3, abs=0.03)
    assert values.std() == pytest.approx(5 * np.sqrt(0.5 / 5.625), abs=0.03)
    assert stats.skew(values) > 0.3


def test_brando_symmetric_regime_has_symmetric_relative_noise():
    X, y = make_brando2019(n_samples=100_000, random_state=2)
    x = X[:, 0]
    picked = _regime(x) == 1
    mean = -2.0 - 3.03 * np.cos(6 * np.pi * (x[picked] - 0.3763))
    standardised = (y[picked] - mean) / (0.245 * np.abs(mean))
    assert stats.kstest(standardised, "norm").pvalue > 1e-3


def test_brando_uniform_band_is_uniform_between_moving_bounds():
    X, y = make_brando2019(n_samples=100_000, random_state=3)
    x = X[:, 0]
    picked = _regime(x) == 2
    fraction = (x[picked] - _BRANDO_BOUNDARIES[1]) / (_BRANDO_BOUNDARIES[2] - _BRANDO_BOUNDARIES[1])
    lower = -2.0 - 2.5 * fraction
    upper = -0.5 + 9.55 * fraction
    relative = (y[picked] - lower) / (upper - lower)
    assert relative.min() >= 0 and relative.max() <= 1
    assert stats.kstest(relative, "uniform").pvalue > 1e-3


def test_brando_multimodal_regime_has_three_equally_likely_modes():
    X, y = make_brando2019(n_samples=100_000, random_state=4)
    values = y[_regime(X[:, 0]) == 3]
    shares = [np.mean((values >= low) & (values <= high)) for low, high in _BRANDO_MODES]
    assert sum(shares) == pytest.approx(1.0)
    np.testing.assert_allclose(shares, 1 / 3, atol=4 * np.sqrt(2 / 9 / values.size))


@pytest.mark.parametrize("x", [0.1, 0.3, 0.376, 0.5, 0.6, 0.8])
def test_brando_density_integrates_to_one(x):
    edges = np.linspace(-12.5, 12.5, 2_000_001)
    midpoints = 0.5 * (edges[1:] + edges[:-1])  # never hits the pole at y = 0.5
    density = np.exp(_brando2019_log_density(x, midpoints))
    # The Beta(0.5, 1) pole is integrable but slows the midpoint rule's convergence.
    tolerance = 1e-2 if x < _BRANDO_BOUNDARIES[0] else 1e-4
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0, abs=tolerance)


@pytest.mark.parametrize("regime", [0, 1, 2, 3])
def test_brando_generator_matches_shared_data_in_each_regime(regime):
    x_data, y_data = _brando_shared_data()
    X, y = make_brando2019(n_samples=40_000, random_state=0)
    reference = y_data[_regime(x_data) == regime]
    generated = y[_regime(X[:, 0]) == regime]
    assert stats.ks_2samp(reference, generated).pvalue > 1e-3


def test_brando_generator_matches_shared_data_along_x():
    # Finer than per regime: twenty windows of x of width 0.05.
    x_data, y_data = _brando_shared_data()
    X, y = make_brando2019(n_samples=40_000, random_state=1)
    p_values = []
    for low in np.arange(20) / 20:
        reference = y_data[(x_data >= low) & (x_data < low + 0.05)]
        generated = y[(X[:, 0] >= low) & (X[:, 0] < low + 0.05)]
        p_values.append(stats.ks_2samp(reference, generated).pvalue)
    assert min(p_values) > 1e-3, p_values


def test_brando_shared_data_standardised_by_the_reconstruction_is_normal():
    # Sensitive to the noise scale, which the pooled per-regime test barely sees.
    x_data, y_data = _brando_shared_data()
    picked = _regime(x_data) == 1
    mean = _brando_wave(x_data[picked])
    standardised = (y_data[picked] - mean) / (_BRANDO_RELATIVE_STD * np.abs(mean))
    assert stats.kstest(standardised, "norm").pvalue > 1e-3


def test_brando_shared_data_fills_the_reconstructed_band_uniformly():
    x_data, y_data = _brando_shared_data()
    picked = _regime(x_data) == 2
    lower, upper = _brando_band(x_data[picked])
    relative = (y_data[picked] - lower) / (upper - lower)
    assert relative.min() >= 0 and relative.max() <= 1
    assert stats.kstest(relative, "uniform").pvalue > 1e-3


def test_brando_shared_test_split_lies_in_the_support():
    x_data, y_data = _load_csv("toy_brando2019_test.csv")
    log_density = _brando2019_log_density(x_data, y_data)
    assert np.all(np.isfinite(log_density))
    assert -log_density.mean() < 1.4  # the oracle; paper's best model: 1.65


# ---------------------------------------------------------------- make_blob_images
def test_blob_images_are_uint8_batches_with_optional_channels_last():
    X, y = make_blob_images(5, image_size=12, random_state=0)
    assert X.shape == (5, 12, 12) and X.dtype == np.uint8
    assert y.shape == (5,) and y.dtype == np.float64
    X, _ = make_blob_images(5, image_size=12, n_channels=3, random_state=0)
    assert X.shape == (5, 12, 12, 3) and X.dtype == np.uint8


def test_blob_images_are_reproducible_and_seed_dependent():
    first, first_y = make_blob_images(6, image_size=10, random_state=3)
    again, again_y = make_blob_images(6, image_size=10, random_state=3)
    other, _ = make_blob_images(6, image_size=10, random_state=4)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first_y, again_y)
    assert not np.array_equal(first, other)


def test_blob_targets_are_uniform_counts_plus_bounded_jitter():
    _, y = make_blob_images(3000, image_size=8, max_blobs=4, random_state=0)
    counts = np.round(y)
    assert np.all(np.abs(y - counts) <= 0.5)
    # Counts are uniform on {0, ..., 4}; the jitter is uniform on (-0.5, 0.5).
    assert stats.chisquare(np.bincount(counts.astype(int), minlength=5)).pvalue > 1e-3
    assert stats.kstest(y - counts + 0.5, "uniform").pvalue > 1e-3


def test_blob_targets_are_integers_without_jitter():
    _, y = make_blob_images(50, image_size=8, max_blobs=3, jitter=0.0, random_state=0)
    np.testing.assert_array_equal(y, np.round(y))
    assert y.min() >= 0 and y.max() <= 3


def test_blob_brightness_grows_with_the_count():
    X, y = make_blob_images(400, image_size=24, random_state=0)
    brightness = X.reshape(len(X), -1).astype(float).sum(axis=1)
    assert stats.pearsonr(brightness, y).statistic > 0.9


def test_images_without_blobs_are_dark_background_and_noise():
    X, y = make_blob_images(20, image_size=16, max_blobs=0, random_state=0)
    assert np.all(np.abs(y) <= 0.5)
    assert X.mean() < 0.15 * 255


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"image_size": 3}, "image_size"),
        ({"max_blobs": -1}, "max_blobs"),
        ({"n_channels": 0}, "n_channels"),
        ({"blob_sigma": (2.0, 1.0)}, "blob_sigma"),
        ({"blob_sigma": 1.0}, "blob_sigma"),
        ({"noise": -0.1}, "noise"),
        ({"jitter": np.nan}, "jitter"),
    ],
)
def test_blob_image_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_blob_images(**{"n_samples": 2, **kwargs})

