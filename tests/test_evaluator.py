"""EnergyEvaluator through EnergyRegressor: snapshots, non-finite outputs, fitted densities."""

import numpy as np
import pytest
import torch
from helpers import FAST
from scipy import stats
from torch import nn

from skebm import EnergyRegressor
from skebm.datasets import make_gustafsson2020
from skebm.exceptions import NonFiniteOutputError


def data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, np.sin(X[:, 0]) + 0.2 * rng.normal(size=n)


def integral(dist):
    grid = np.linspace(-10.0, 10.0, 20_001)
    density = dist.pdf(np.broadcast_to(grid, (len(dist), grid.size)))
    return np.trapezoid(density, grid, axis=1)


def test_a_distribution_is_a_snapshot_that_a_warm_start_refit_does_not_change():
    X, y = data()
    model = EnergyRegressor(**FAST, warm_start=True).fit(X, y)
    dist = model.predict_dist(X[:5])
    points = np.linspace(-2, 2, 7) * np.ones((5, 1))
    before = dist.logpdf(points)
    np.testing.assert_allclose(integral(dist), 1.0, atol=1e-3)
    model.fit(X, y + 0.3)  # continues training the same network
    assert not np.allclose(model.predict_dist(X[:5]).logpdf(points), before)
    np.testing.assert_array_equal(dist.logpdf(points), before)
    np.testing.assert_allclose(integral(dist), 1.0, atol=1e-3)


@pytest.fixture(scope="module")
def fitted():
    X, y = data()
    return EnergyRegressor(**FAST).fit(X, y), X


@pytest.mark.parametrize("method", ["predict", "mode", "ppf", "sample", "score"])
def test_inputs_that_overflow_the_network_raise_naming_the_features(fitted, method):
    model, X = fitted
    bad = X[:4].copy()
    bad[[1, 3]] *= 1e200
    calls = {
        "predict": lambda: model.predict(bad),
        "mode": lambda: model.predict(bad, kind="mode"),
        "ppf": lambda: model.predict_dist(bad).ppf(0.5),
        "sample": lambda: model.sample(bad, 3),
        "score": lambda: model.score(bad, np.zeros(4)),
    }
    with pytest.raises(NonFiniteOutputError, match="feature extractor .* 2 of 4 rows"):
        calls[method]()


class NaNInEval(nn.Module):
    """A user extractor that is fine in training and returns NaN in eval mode."""

    out_features = 4

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 4)

    def forward(self, inputs):
        features = self.layer(inputs)
        return features if self.training else torch.full_like(features, float("nan"))


@pytest.mark.parametrize("method", ["predict", "mode", "ppf", "sample"])
def test_an_extractor_returning_nan_in_eval_mode_raises(method):
    X, y = data(100)
    model = EnergyRegressor(**FAST, feature_extractor=NaNInEval).fit(X, y)
    calls = {
        "predict": lambda: model.predict(X[:3]),
        "mode": lambda: model.predict(X[:3], kind="mode"),
        "ppf": lambda: model.predict_dist(X[:3]).ppf(0.5),
        "sample": lambda: model.sample(X[:3], 3),
    }
    with pytest.raises(NonFiniteOutputError, match="feature extractor .* 3 of 3 rows"):
        calls[method]()


@pytest.mark.parametrize(("part", "parameter"), [
    ("the energy head", "energy_head.joint_net.3.bias"),
    ("the proposal", "proposal_head.output.bias"),
])
def test_a_non_finite_head_is_named(part, parameter):
    X, y = data(100)
    model = EnergyRegressor(**FAST).fit(X, y)
    with torch.no_grad():
        model.module_.get_parameter(parameter).fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError, match=part):
        model.predict(X[:3])


@pytest.fixture(scope="module")
def toy_model():
    X, y = make_gustafsson2020(1000, random_state=0)
    return EnergyRegressor(max_epochs=20, random_state=0).fit(X, y)


@pytest.mark.slow
@pytest.mark.parametrize("x", [-1.5, -0.5, 1.0])  # bimodal for x < 0
def test_samples_of_a_fitted_model_follow_its_cdf(toy_model, x):
    dist = toy_model.predict_dist(np.array([[x]]))
    draws = dist.sample(10_000, random_state=1)[0]
    assert stats.kstest(draws, lambda v: dist.cdf(v[None])[0]).pvalue > 1e-3


@pytest.mark.slow
def test_the_fitted_toy_density_is_bimodal_where_the_truth_is(toy_model):
    dist = toy_model.predict_dist(np.array([[-1.5]]))
    y = np.linspace(-2, 2, 801)
    density = dist.pdf(y[None])[0]
    peaks = (density[1:-1] > density[:-2]) & (density[1:-1] > density[2:])
    assert peaks.sum() >= 2  # so the sampling test above covers a bimodal density
