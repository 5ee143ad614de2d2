"""Tests for skebm.metrics against closed forms, using small fake distributions."""

import inspect

import numpy as np
import properscoring
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

import skebm.metrics as metrics
from skebm import _crps
from skebm.datasets import gustafsson2020_log_density
from skebm.metrics import (
    coverage_scorer,
    crps,
    crps_scorer,
    gustafsson2020_kl,
    interval_coverage,
    kl_divergence_on_grid,
    negative_log_likelihood,
    nll_scorer,
)


class GaussianBatch:
    """n independent 1-D Gaussians with the methods the metrics use."""

    target_dim = 1

    def __init__(self, mean, std):
        self.loc = np.asarray(mean, dtype=float)
        self.scale = np.broadcast_to(np.asarray(std, dtype=float), self.loc.shape)

    def __len__(self):
        return self.loc.size

    def _columns(self, y):
        y = np.asarray(y, dtype=float)
        return (self.loc, self.scale) if y.ndim == 1 else (self.loc[:, None], self.scale[:, None])

    def logpdf(self, y):
        loc, scale = self._columns(y)
        return stats.norm.logpdf(y, loc, scale)

    def cdf(self, y):
        loc, scale = self._columns(y)
        return stats.norm.cdf(y, loc, scale)

    def ppf(self, q):
        return stats.norm.ppf(q, self.loc, self.scale)

    def interval(self, confidence):
        tail = (1 - confidence) / 2
        return self.ppf(tail), self.ppf(1 - tail)

    def mean(self):
        return self.loc.copy()

    def sample(self, n_samples=1, random_state=None):
        rng = np.random.default_rng(random_state)
        return self.loc[:, None] + self.scale[:, None] * rng.standard_normal((len(self), n_samples))


class GaussianBatch2D:
    """n Gaussians in 2-D with independent coordinates (std may be 0 for a point mass)."""

    target_dim = 2

    def __init__(self, mean, std):
        self.loc = np.asarray(mean, dtype=float)  # (n, 2)
        self.scale = np.broadcast_to(np.asarray(std, dtype=float), self.loc.shape)

    def __len__(self):
        return self.loc.shape[0]

    def interval(self, confidence):
        tail = (1 - confidence) / 2
        return (
            stats.norm.ppf(tail, self.loc, np.maximum(self.scale, 1e-300)),
            stats.norm.ppf(1 - tail, self.loc, np.maximum(self.scale, 1e-300)),
        )

    def sample(self, n_samples=1, random_state=None):
        rng = np.random.default_rng(random_state)
        # Draw coordinate by coordinate so the first one matches GaussianBatch's draws.
        noise = np.stack([rng.standard_normal((len(self), n_samples)) for _ in range(2)], axis=-1)
        return self.loc[:, None, :] + self.scale[:, None, :] * noise


class GaussianRegressor(RegressorMixin, BaseEstimator):
    """Least-squares line with Gaussian noise of a fixed, tunable scale."""

    def __init__(self, noise_scale=1.0):
        self.noise_scale = noise_scale

    def fit(self, X, y):
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X):
        return X @ self.coef_

    def predict_dist(self, X):
        return GaussianBatch(self.predict(X), self.noise_scale)


def _gaussian_crps(y, mean, std):
    """Closed-form CRPS of N(mean, std^2) at y (Gneiting et al., 2005)."""
    z = (y - mean) / std
    return std * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def _gaussian_kl(mean_p, std_p, mean_q, std_q):
    return np.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5


@pytest.fixture
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5 * rng.standard_normal(300)
    return X, y


# ------------------------------------------------------------------ NLL
def test_nll_of_standard_normal_matches_closed_form():
    y = np.random.default_rng(1).normal(size=500)
    expected = 0.5 * np.log(2 * np.pi) + 0.5 * np.mean(y**2)
    assert negative_log_likelihood(y, GaussianBatch(np.zeros(500), 1.0)) == pytest.approx(
        expected, rel=1e-12
    )


def test_nll_uses_sample_weight():
    y = np.array([0.0, 1.0, 2.0])
    dist = GaussianBatch(np.zeros(3), 1.0)
    weights = np.array([1.0, 0.0, 3.0])
    expected = np.average(-stats.norm.logpdf(y), weights=weights)
    assert negative_log_likelihood(y, dist, sample_weight=weights) == pytest.approx(expected)


def test_nll_accepts_a_column_of_targets():
    y = np.array([0.3, -0.2])
    dist = GaussianBatch(np.zeros(2), 1.0)
    assert negative_log_likelihood(y[:, None], dist) == negative_log_likelihood(y, dist)


def test_nll_is_infinite_when_a_target_has_zero_density():
    class Uniform01(GaussianBatch):
        def logpdf(self, y):
            y = np.asarray(y)
            return np.where((y >= 0) & (y <= 1), 0.0, -np.inf)

    assert negative_log_likelihood(np.array([0.5, 2.0]), Uniform01(np.zeros(2), 1.0)) == np.inf
    # ... of positive weight: a weight of 0 leaves the row out, as estimator.score does.
    assert negative_log_likelihood(np.array([0.5, 2.0]), Uniform01(np.zeros(2), 1.0),
                                   sample_weight=[1.0, 0.0]) == 0.0


def test_nll_rejects_length_mismatch():
    with pytest.raises(ValueError, match="3 rows but dist holds 2"):
        negative_log_likelihood(np.zeros(3), GaussianBatch(np.zeros(2), 1.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nll_rejects_non_finite_targets(bad):
    with pytest.raises(ValueError, match="NaN"):
        negative_log_likelihood(np.array([0.0, bad]), GaussianBatch(np.zeros(2), 1.0))


def test_nll_rejects_bad_sample_weight():
    with pytest.raises(ValueError, match="sample_weight"):
        negative_log_likelihood(np.zeros(2), GaussianBatch(np.zeros(2), 1.0), sample_weight=[1])


# ------------------------------------------------------------------ CRPS
def test_crps_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(2)
    mean, std = rng.normal(size=400), rng.uniform(0.5, 2.0, size=400)
    y = rng.normal(size=400)
    expected = _gaussian_crps(y, mean, std).mean()
    # Monte-Carlo error of the mean over 400 rows of 2000 draws is ~ 1e-3.
    assert crps(y, GaussianBatch(mean, std), n_samples=2000) == pytest.approx(expected, abs=5e-3)


def test_crps_of_point_masses_is_absolute_error():
    y = np.array([0.0, 1.0, -2.0])
    dist = GaussianBatch(np.array([1.0, 1.0, 0.5]), 0.0)
    assert crps(y, dist, n_samples=7) == pytest.approx(np.mean([1.0, 0.0, 2.5]))


def test_crps_is_reproducible_with_default_random_state():
    dist = GaussianBatch(np.zeros(20), 1.0)
    y = np.linspace(-1, 1, 20)
    assert crps(y, dist) == crps(y, dist)
    assert crps(y, dist, random_state=1) != crps(y, dist, random_state=2)


@pytest.mark.parametrize("has_numba", [True, False])
def test_crps_matches_properscoring_on_either_code_path(monkeypatch, has_numba):
    monkeypatch.setattr(_crps, "HAS_NUMBA", has_numba)
    dist = GaussianBatch(np.linspace(-1, 1, 6), 0.7)
    y = np.array([0.1, -0.4, 2.0, 0.0, 0.3, -1.5])
    draws = dist.sample(150, random_state=3)
    expected = properscoring.crps_ensemble(y, draws).mean()
    assert crps(y, dist, n_samples=150, random_state=3) == pytest.approx(expected, rel=1e-10)


def test_energy_score_reduces_to_crps_when_other_dimension_is_exact():
    rng = np.random.default_rng(4)
    mean = rng.normal(size=(30, 2))
    y = rng.normal(size=(30, 2))
    y[:, 1] = mean[:, 1]  # the second coordinate is predicted exactly
    dist_2d = GaussianBatch2D(mean, np.array([1.3, 0.0]))
    dist_1d = GaussianBatch(mean[:, 0], 1.3)
    expected = crps(y[:, 0], dist_1d, n_samples=300, random_state=5)
    assert crps(y, dist_2d, n_samples=300, random_state=5) == pytest.approx(expected, rel=1e-10)


def test_energy_score_prefers_the_true_distribution():
    rng = np.random.default_rng(6)
    mean = rng.normal(size=(300, 2))
    y = mean + rng.standard_normal((300, 2))
    right = crps(y, GaussianBatch2D(mean, 1.0), n_samples=500)
    shifted = crps(y, GaussianBatch2D(mean + 1.0, 1.0), n_samples=500)
    assert right < shifted


@pytest.mark.parametrize("n_samples", [0, 2.5, True])
def test_crps_rejects_invalid_n_samples(n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        crps(np.zeros(2), GaussianBatch(np.zeros(2), 1.0), n_samples=n_samples)


def test_crps_rejects_samples_of_the_wrong_shape():
    with pytest.raises(ValueError, match="dist.sample returned shape"):
        crps(np.zeros((3, 2)), GaussianBatch(np.zeros(3), 1.0), n_samples=10)


# ------------------------------------------------------------------ coverage
@pytest.mark.parametrize("confidence", [0.5, 0.9])
def test_coverage_of_calibrated_gaussians_is_nominal(confidence):
    rng = np.random.default_rng(7)
    mean = rng.normal(size=20_000)
    y = mean + 2.0 * rng.standard_normal(20_000)
    observed = interval_coverage(y, GaussianBatch(mean, 2.0), confidence=confidence)
    tolerance = 4 * np.sqrt(confidence * (1 - confidence) / 20_000)
    assert abs(observed - confidence) < tolerance


def test_coverage_of_overconfident_gaussians_is_low():
    y = np.random.default_rng(8).normal(size=5_000)
    assert interval_coverage(y, GaussianBatch(np.zeros(5_000), 0.5), confidence=0.9) < 0.6


def test_coverage_in_two_dimensions_needs_every_dimension_inside():
    dist = GaussianBatch2D(np.zeros((3, 2)), 1.0)  # 90% marginal interval is +-1.645
    y = np.array([[0.0, 0.0], [0.0, 3.0], [3.0, 3.0]])
    assert interval_coverage(y, dist, confidence=0.9) == pytest.approx(1 / 3)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, "0.9"])
def test_coverage_rejects_invalid_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        interval_coverage(np.zeros(2), GaussianBatch(np.zeros(2), 1.0), confidence=confidence)


# ------------------------------------------------------------------ KL on a grid
def test_kl_of_identical_densities_is_zero():
    y_grid = np.linspace(-6, 6, 1001)
    log_density = stats.norm.logpdf(y_grid[None, :], np.array([[-1.0], [0.0], [2.0]]), 0.7)
    value = kl_divergence_on_grid(log_density, log_density, y_grid=y_grid)
    assert value == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize(("shift", "scale"), [(1.0, 1.0), (0.5, 2.0), (-2.0, 0.5)])
def test_kl_of_gaussians_matches_closed_form(shift, scale):
    y_grid = np.linspace(-15, 15, 6001)
    truth = stats.norm.logpdf(y_grid, 0.0, 1.0)[None, :]
    model = stats.norm.logpdf(y_grid, shift, scale)[None, :]
    expected = _gaussian_kl(0.0, 1.0, shift, scale)
    assert kl_divergence_on_grid(truth, model, y_grid=y_grid) == pytest.approx(expected, rel=1e-4)


def test_kl_averages_over_rows():
    y_grid = np.linspace(-15, 15, 6001)
    truth = stats.norm.logpdf(y_grid, 0.0, 1.0)[None, :].repeat(2, axis=0)
    model = np.stack([stats.norm.logpdf(y_grid, 0.0, 1.0), stats.norm.logpdf(y_grid, 2.0, 1.0)])
    assert kl_divergence_on_grid(truth, model, y_grid=y_grid) == pytest.approx(1.0, rel=1e-4)


def test_kl_weights_points_by_cell_width_on_an_uneven_grid():
    y_grid = np.sinh(np.linspace(-4, 4, 8001))  # dense near 0, sparse in the tails
    truth = stats.norm.logpdf(y_grid, 0.0, 1.0)[None, :]
    model = stats.norm.logpdf(y_grid, 1.0, 1.5)[None, :]
    expected = _gaussian_kl(0.0, 1.0, 1.0, 1.5)
    assert kl_divergence_on_grid(truth, model, y_grid=y_grid) == pytest.approx(expected, rel=1e-3)


def test_kl_is_large_but_finite_when_model_density_is_zero_where_truth_is_not():
    y_grid = np.linspace(-5, 5, 1001)
    truth = stats.norm.logpdf(y_grid, 0.0, 1.0)[None, :]
    with np.errstate(divide="ignore"):
        model = np.log(((y_grid >= 0) & (y_grid <= 1)).astype(float))[None, :]
    value = kl_divergence_on_grid(truth, model, y_grid=y_grid)
    assert np.isfinite(value) and value > 100


@pytest.mark.parametrize("truth_is_zero", [False, True])
def test_kl_is_large_but_finite_when_model_density_is_zero_everywhere(truth_is_zero):
    y_grid = np.linspace(-5, 5, 101)
    truth = stats.norm.logpdf(y_grid, 0.0, 1.0)[None, :]
    if truth_is_zero:  # the protocol's 1e-30 offset still gives the truth mass everywhere
        truth = np.full((1, 101), -np.inf)
    model = np.full((1, 101), -np.inf)
    value = kl_divergence_on_grid(truth, model, y_grid=y_grid)
    assert np.isfinite(value) and value > 500  # -log(smallest float) - log(101) = 703


def test_kl_rejects_mismatched_shapes():
    y_grid = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="shape"):
        kl_divergence_on_grid(np.zeros((2, 5)), np.zeros((3, 5)), y_grid=y_grid)
    with pytest.raises(ValueError, match="match y_grid"):
        kl_divergence_on_grid(np.zeros((2, 4)), np.zeros((2, 4)), y_grid=y_grid)


def test_kl_rejects_nan_densities():
    y_grid = np.linspace(-1, 1, 5)
    model = np.zeros((1, 5))
    model[0, 2] = np.nan
    with pytest.raises(ValueError, match="model_log_density contains NaN"):
        kl_divergence_on_grid(np.zeros((1, 5)), model, y_grid=y_grid)


def test_kl_rejects_a_grid_that_is_not_increasing():
    with pytest.raises(ValueError, match="strictly increasing"):
        kl_divergence_on_grid(np.zeros((1, 3)), np.zeros((1, 3)), y_grid=np.array([0.0, 2.0, 1.0]))


# ------------------------------------------------------------------ Gustafsson KL
class _OracleDist:
    def __init__(self, x):
        self.x = x

    def logpdf(self, y):
        return gustafsson2020_log_density(self.x[:, None], y)


class _Oracle:
    def predict_dist(self, X):
        assert X.shape[1] == 1
        return _OracleDist(X[:, 0])


def test_gustafsson_kl_of_the_true_density_is_zero():
    assert gustafsson2020_kl(_Oracle()) == pytest.approx(0.0, abs=1e-12)


def test_gustafsson_kl_of_a_gaussian_fit_is_clearly_positive():
    class WideGaussian:
        def predict_dist(self, X):
            return GaussianBatch(np.zeros(len(X)), 1.0)

    # Matches the direct discretised computation on the same grid.
    y_grid = np.linspace(-3, 3, 256)
    truth = gustafsson2020_log_density(y_grid[:, None], y_grid[None, :])
    model = stats.norm.logpdf(y_grid)[None, :].repeat(256, axis=0)
    expected = kl_divergence_on_grid(truth, model, y_grid=y_grid)
    value = gustafsson2020_kl(WideGaussian(), n_grid=256)
    assert value == pytest.approx(expected) and value > 1.0


@pytest.mark.parametrize("n_grid", [1, 2.0, True])
def test_gustafsson_kl_rejects_invalid_grid_size(n_grid):
    with pytest.raises(ValueError, match="n_grid"):
        gustafsson2020_kl(_Oracle(), n_grid=n_grid)


# ------------------------------------------------------------------ scorers
def test_scorers_equal_signed_metrics(regression_data):
    X, y = regression_data
    estimator = GaussianRegressor(noise_scale=0.5).fit(X, y)
    dist = estimator.predict_dist(X)
    assert nll_scorer(estimator, X, y) == pytest.approx(-negative_log_likelihood(y, dist))
    assert crps_scorer(estimator, X, y) == pytest.approx(-crps(y, dist))
    assert coverage_scorer(estimator, X, y) == pytest.approx(interval_coverage(y, dist))


def test_nll_scorer_selects_the_true_noise_scale_in_grid_search(regression_data):
    X, y = regression_data
    search = GridSearchCV(
        GaussianRegressor(), {"noise_scale": [0.1, 0.5, 2.0]}, scoring=nll_scorer, cv=3
    )
    search.fit(X, y)
    assert search.best_params_ == {"noise_scale": 0.5}


def test_crps_scorer_selects_the_true_noise_scale_in_grid_search(regression_data):
    X, y = regression_data
    search = GridSearchCV(
        GaussianRegressor(), {"noise_scale": [0.1, 0.5, 2.0]}, scoring=crps_scorer, cv=3
    )
    search.fit(X, y)
    assert search.best_params_ == {"noise_scale": 0.5}


def test_scorers_work_together_in_cross_validate(regression_data):
    X, y = regression_data
    folds = KFold(3)
    scores = cross_validate(
        GaussianRegressor(noise_scale=0.5),
        X,
        y,
        cv=folds,
        scoring={"nll": nll_scorer, "crps": crps_scorer, "coverage": coverage_scorer},
    )
    for fold, (train, test) in enumerate(folds.split(X)):
        dist = GaussianRegressor(noise_scale=0.5).fit(X[train], y[train]).predict_dist(X[test])
        assert scores["test_nll"][fold] == pytest.approx(-negative_log_likelihood(y[test], dist))
        assert scores["test_crps"][fold] == pytest.approx(-crps(y[test], dist))
        assert scores["test_coverage"][fold] == pytest.approx(interval_coverage(y[test], dist))


class ShiftedGaussianBatch(GaussianBatch):
    """Gaussians whose logpdf is off by a constant: an unnormalised density."""

    def logpdf(self, y):
        return super().logpdf(y) + 5.0


def test_grid_nll_matches_closed_form_for_normalised_densities():
    mean, std = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    y = np.array([0.3, 1.2, -1.0])
    expected = -np.mean(stats.norm.logpdf(y, mean, std))
    got = metrics.grid_negative_log_likelihood(y, GaussianBatch(mean, std), low=-15, high=15)
    assert got == pytest.approx(expected, abs=1e-6)


def test_grid_nll_normalises_unnormalised_densities():
    mean, std = np.array([0.0, 1.0]), np.array([1.0, 0.5])
    y = np.array([0.3, 1.2])
    expected = -np.mean(stats.norm.logpdf(y, mean, std))
    got = metrics.grid_negative_log_likelihood(y, ShiftedGaussianBatch(mean, std), low=-15, high=15)
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("low, high", [(1.0, 1.0), (np.nan, 1.0)])
def test_grid_nll_rejects_bad_ranges(low, high):
    with pytest.raises(ValueError, match="low < high"):
        metrics.grid_negative_log_likelihood(np.zeros(1), GaussianBatch(np.zeros(1), np.ones(1)),
                                             low=low, high=high)


# ------------------------------------------------------------ mixture CRPS
class SamplesOnly:
    """Hides every method but ``sample``, so ``crps`` has to use draws."""

    def __init__(self, dist):
        self.dist = dist
        self.target_dim = dist.target_dim

    def __len__(self):
        return len(self.dist)

    def sample(self, n_samples=1, random_state=None):
        return self.dist.sample(n_samples, random_state=random_state)


def random_mixtures(n_rows=50, n_components=3, seed=0):
    from skebm.distributions import GaussianMixtureDistribution

    rng = np.random.default_rng(seed)
    return GaussianMixtureDistribution(
        log_weights=rng.normal(size=(n_rows, n_components)),
        means=rng.normal(scale=2.0, size=(n_rows, n_components, 1)),
        stds=rng.uniform(0.2, 1.5, size=(n_rows, n_components, 1)),
    ), rng.normal(scale=2.0, size=n_rows)


def test_crps_of_a_one_component_mixture_is_the_gaussian_closed_form():
    from skebm.distributions import GaussianMixtureDistribution

    rng = np.random.default_rng(4)
    mean, std, y = rng.normal(size=30), rng.uniform(0.3, 2.0, size=30), rng.normal(size=30)
    dist = GaussianMixtureDistribution(np.zeros((30, 1)), mean[:, None, None], std[:, None, None])
    assert crps(y, dist) == pytest.approx(_gaussian_crps(y, mean, std).mean(), rel=1e-12)


def test_crps_of_mixtures_matches_the_integral_of_the_squared_cdf_difference():
    from scipy.integrate import quad

    dist, y = random_mixtures(n_rows=5)
    for row in range(5):
        def cdf(z, row=row):
            return float(dist[row].cdf(np.array([z]))[0])

        below = quad(lambda z: cdf(z) ** 2, -np.inf, y[row])[0]
        above = quad(lambda z: (1.0 - cdf(z)) ** 2, y[row], np.inf)[0]
        assert crps(y[row : row + 1], dist[row]) == pytest.approx(below + above, abs=1e-8)


def test_crps_of_mixtures_is_closed_form_and_agrees_with_the_sample_based_value():
    dist, y = random_mixtures(n_rows=200)
    exact = crps(y, dist)
    assert crps(y, dist, n_samples=10, random_state=1) == exact  # draws are not used
    # Monte-Carlo error of a mean over 200 rows of 4000 draws is ~ 2e-3.
    assert crps(y, SamplesOnly(dist), n_samples=4000) == pytest.approx(exact, abs=1e-2)


def test_crps_of_two_dimensional_mixtures_stays_sample_based():
    from skebm.distributions import GaussianMixtureDistribution

    dist = GaussianMixtureDistribution(np.zeros((5, 1)), np.zeros((5, 1, 2)), np.ones((5, 1, 2)))
    y = np.zeros((5, 2))
    assert crps(y, dist, random_state=0) != crps(y, dist, random_state=1)


def test_scorers_work_through_a_pipeline(regression_data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = regression_data
    pipe = make_pipeline(StandardScaler(), GaussianRegressor()).fit(X, y)
    expected = -metrics.negative_log_likelihood(y, pipe[-1].predict_dist(pipe[0].transform(X)))
    assert metrics.nll_scorer(pipe, X, y) == pytest.approx(expected)
    assert -metrics.crps_scorer(pipe, X, y) > 0


def test_scorer_rejects_estimators_without_predict_dist(regression_data):
    from sklearn.linear_model import LinearRegression

    X, y = regression_data
    with pytest.raises(TypeError, match="predict_dist"):
        metrics.nll_scorer(LinearRegression().fit(X, y), X, y)


# ------------------------------------------------------------ argument conventions
@pytest.mark.parametrize(
    "metric, leading",
    [
        (metrics.negative_log_likelihood, ["y_true", "dist"]),
        (metrics.crps, ["y_true", "dist"]),
        (metrics.interval_coverage, ["y_true", "dist"]),
        (metrics.grid_negative_log_likelihood, ["y_true", "dist"]),
        (metrics.kl_divergence_on_grid, ["true_log_density", "model_log_density"]),
        (metrics.gustafsson2020_kl, ["estimator"]),
    ],
)
def test_metrics_take_their_data_by_position_and_options_by_keyword(metric, leading):
    parameters = list(inspect.signature(metric).parameters.values())
    assert [p.name for p in parameters[: len(leading)]] == leading
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[: len(leading)])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[len(leading):])


def test_crps_refuses_a_positional_sample_count():
    with pytest.raises(TypeError):
        crps(np.zeros(2), GaussianBatch(np.zeros(2), 1.0), 10)


def test_predict_dist_under_metrics_is_deprecated_for_skebm_pipeline(regression_data):
    from skebm.pipeline import predict_dist

    with pytest.warns(DeprecationWarning, match=r"skebm\.pipeline\.predict_dist"):
        from skebm.metrics import predict_dist as old_predict_dist
    assert old_predict_dist is predict_dist
    assert "predict_dist" not in metrics.__all__
    with pytest.raises(AttributeError, match="no_such_metric"):
        metrics.no_such_metric  # noqa: B018
