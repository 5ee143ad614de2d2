"""skebm inside skpro: exact values through the adapter, skpro's metrics and its own checks."""

import pickle

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skpro")

from helpers import TINY  # noqa: E402
from skpro.metrics import CRPS, LogLoss  # noqa: E402
from skpro.utils import check_estimator  # noqa: E402

from skebm import DistilledMDNRegressor, EnergyRegressor  # noqa: E402
from skebm.calibration import (  # noqa: E402
    CalibrationMap,
    RecalibratedDistribution,
    RecalibratedRegressor,
)
from skebm.distributions import GaussianMixtureDistribution  # noqa: E402
from skebm.metrics import crps  # noqa: E402
from skebm.skpro import SkebmDistribution, SkebmProbaRegressor  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(-2, 2, 300), "b": rng.normal(size=300)})
    y = pd.DataFrame({"target": np.sin(X["a"]) + 0.3 * rng.normal(size=300)},
                     index=X.index)
    return X, y


def crps_from_cdf(dist, y):
    """Mean CRPS as the integral of (F(t) - 1{t >= y})^2 over a wide grid (not skpro's form)."""
    lower, upper = dist.ppf(1e-9), dist.ppf(1 - 1e-9)
    grid = np.linspace(min(lower.min(), y.min()) - 1, max(upper.max(), y.max()) + 1, 200001)
    grid = np.broadcast_to(grid, (len(y), grid.size))
    integrand = (dist.cdf(grid) - (grid >= y[:, None])) ** 2
    return float(np.mean(np.trapezoid(integrand, grid, axis=1)))


def mixture(n=4):
    rng = np.random.default_rng(1)
    return GaussianMixtureDistribution(rng.normal(size=(n, 3)), rng.normal(size=(n, 3, 1)),
                                       np.exp(rng.normal(size=(n, 3, 1)) * 0.3))


def test_skpro_distribution_returns_skebms_exact_values():
    base = mixture()
    dist = SkebmDistribution(base, index=pd.Index(list("abcd")), columns=pd.Index(["y"]))
    y = np.array([[0.1], [-0.5], [1.0], [2.0]])
    exact = dict(rtol=1e-14, atol=0)
    np.testing.assert_allclose(dist.log_pdf(y).to_numpy()[:, 0], base.logpdf(y[:, 0]), **exact)
    np.testing.assert_allclose(dist.cdf(y).to_numpy()[:, 0], base.cdf(y[:, 0]), **exact)
    np.testing.assert_allclose(dist.mean().to_numpy()[:, 0], base.mean(), **exact)
    np.testing.assert_allclose(dist.var().to_numpy()[:, 0], base.var(), **exact)
    np.testing.assert_allclose(dist.ppf(np.full((4, 1), 0.9)).to_numpy()[:, 0],
                               base.ppf(0.9), **exact)
    assert list(dist.loc[["b", "d"]].mean().index) == ["b", "d"]
    np.testing.assert_allclose(dist.iloc[[1, 3]].mean().to_numpy()[:, 0], base.mean()[[1, 3]],
                               **exact)


def test_skpro_crps_agrees_with_the_closed_form_of_a_mixture():
    base = mixture(6)
    y = np.random.default_rng(2).normal(size=(6, 1)) * 2
    got = CRPS()(pd.DataFrame(y), SkebmDistribution(base))
    assert got == pytest.approx(crps(y[:, 0], base), abs=1e-5)


def test_skpro_samples_follow_the_skebm_distribution():
    base = GaussianMixtureDistribution(np.zeros((2, 1)), np.array([[[0.0]], [[5.0]]]),
                                       np.ones((2, 1, 1)))
    draws = SkebmDistribution(base).sample(4000)
    assert draws.index.nlevels == 2 and draws.shape == (8000, 1)
    by_row = draws.groupby(level=1).mean().to_numpy()[:, 0]
    np.testing.assert_allclose(by_row, [0.0, 5.0], atol=0.1)


@pytest.mark.parametrize("estimator", [
    pytest.param(EnergyRegressor(**TINY, n_inference_samples=64), marks=pytest.mark.slow),
    DistilledMDNRegressor(**TINY),
    pytest.param(RecalibratedRegressor(DistilledMDNRegressor(**TINY), cv=2),
                 marks=pytest.mark.slow),
    pytest.param(RecalibratedRegressor(DistilledMDNRegressor(**TINY), cv=2, n_fits=2),
                 marks=pytest.mark.slow),
], ids=["energy", "distilled", "recalibrated", "recalibrated-two-fits"])
def test_skpro_regressor_round_trip_matches_the_skebm_estimator(estimator, data):
    X, y = data
    model = SkebmProbaRegressor(estimator).fit(X, y)
    dist = model.estimator_.predict_dist(X.iloc[:20])
    proba = model.predict_proba(X.iloc[:20])
    assert isinstance(proba, SkebmDistribution)
    assert list(proba.columns) == ["target"] and proba.index.equals(X.index[:20])
    np.testing.assert_allclose(proba.log_pdf(y.iloc[:20]).to_numpy()[:, 0],
                               dist.logpdf(y["target"].to_numpy()[:20]))
    interval = model.predict_interval(X.iloc[:20], coverage=0.9).to_numpy()
    lower, upper = dist.interval(0.9)
    np.testing.assert_allclose(interval, np.stack([lower, upper], axis=1), rtol=1e-10)
    np.testing.assert_allclose(model.predict(X.iloc[:20]).to_numpy()[:, 0], dist.mean())
    log_loss = LogLoss()(y.iloc[:20], proba)
    assert log_loss == pytest.approx(-np.mean(dist.logpdf(y["target"].to_numpy()[:20])))
    assert CRPS()(y.iloc[:20], proba) == pytest.approx(
        crps_from_cdf(dist, y["target"].to_numpy()[:20]), rel=1e-3)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X.iloc[:20]).mean().to_numpy(),
                               proba.mean().to_numpy())


def test_skpro_distribution_refuses_multi_dimensional_targets():
    base = GaussianMixtureDistribution(np.zeros((2, 1)), np.zeros((2, 1, 2)), np.ones((2, 1, 2)))
    with pytest.raises(ValueError, match="1-D targets"):
        SkebmDistribution(base)


def test_skpro_regressor_refuses_several_target_columns(data):
    X, y = data
    two = pd.DataFrame({"first": y["target"], "second": -y["target"]})
    with pytest.raises(ValueError, match="one target column.*2 columns"):
        SkebmProbaRegressor(DistilledMDNRegressor(**TINY)).fit(X, two)


@pytest.mark.slow
def test_skpro_distribution_passes_skpros_own_checks():
    results = check_estimator(SkebmDistribution, raise_exceptions=True, verbose=False)
    assert results and all(value == "PASSED" for value in results.values())


@pytest.mark.slow
def test_skpro_regressor_passes_skpros_own_checks():
    results = check_estimator(SkebmProbaRegressor, raise_exceptions=True, verbose=False)
    assert results and all(value == "PASSED" for value in results.values())


def test_skpro_crps_of_a_sharp_peak_on_a_broad_background_is_exact():
    # 0.995 N(0, 0.001^2) + 0.005 N(0, 1): closed form 0.000338 at y = 0.0005.
    base = GaussianMixtureDistribution(np.log([[0.995, 0.005]]), np.zeros((1, 2, 1)),
                                       np.array([[[0.001], [1.0]]]))
    y = pd.DataFrame([[0.0005]])
    expected = crps(np.array([0.0005]), base)
    assert expected == pytest.approx(0.000338, abs=1e-6)
    assert CRPS()(y, SkebmDistribution(base)) == pytest.approx(expected, rel=1e-4)
    calibration = CalibrationMap(np.linspace(0, 1, 10001), n_knots=10)  # the identity
    recalibrated = SkebmDistribution(RecalibratedDistribution(base, calibration))
    assert CRPS()(y, recalibrated) == pytest.approx(expected, rel=1e-4)
