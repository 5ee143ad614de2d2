"""What only DistilledMDNRegressor does: the exact mixture, the teacher, one extractor each.

Behaviour shared with EnergyRegressor is tested in ``test_estimators.py``.
"""

import pickle

import numpy as np
import pytest
import torch
from helpers import FAST, heteroscedastic
from sklearn.base import clone

from skebm import DistilledMDNRegressor, objectives
from skebm.distributions import GaussianMixtureDistribution
from skebm.nn import EnergyNetwork, MLPExtractor


@pytest.fixture(scope="module")
def fitted_1d():
    """A quickly fitted model: these tests check structure, not accuracy."""
    X, y = heteroscedastic(200)
    return DistilledMDNRegressor(**FAST).fit(X, y), X, y


class CountingCalls:
    """Wraps a function and counts its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


# ---------------------------------------------------------------- the mixture
def test_predict_dist_is_the_networks_mixture_in_user_units(fitted_1d):
    model, X, y = fitted_1d
    dist = model.predict_dist(X[:6])
    assert isinstance(dist, GaussianMixtureDistribution)
    assert dist.n_components == model.n_components + 1  # the network's and the background
    weight = model.background_weight_
    assert weight == pytest.approx(1.0 / (len(y) + 1.0))
    scaler = model._input_scaler, model._target_scaler
    with torch.no_grad():
        log_weights, means, log_stds = (
            p.double().cpu().numpy()
            for p in model.module_.student(scaler[0].transform(X[:6]).to(model.device_))
        )
    network = slice(0, model.n_components)
    np.testing.assert_allclose(dist.log_weights[:, network], log_weights + np.log1p(-weight),
                               atol=1e-6)
    np.testing.assert_allclose(dist.means[:, network], means * scaler[1].scale + scaler[1].mean,
                               rtol=1e-6)
    np.testing.assert_allclose(dist.stds[:, network], np.exp(log_stds) * scaler[1].scale,
                               rtol=1e-6)
    np.testing.assert_allclose(dist.weights[:, -1], weight)
    np.testing.assert_allclose(dist.means[:, -1, 0], np.mean(y))
    np.testing.assert_allclose(dist.stds[:, -1, 0], np.std(y))


def test_no_background_gives_the_networks_mixture_alone(fitted_1d):
    model, X, _ = fitted_1d
    plain = clone(model).set_params(background_weight=0.0).fit(*fitted_1d[1:])
    dist = plain.predict_dist(X[:6])
    assert plain.background_weight_ == 0.0
    assert dist.n_components == model.n_components
    np.testing.assert_allclose(dist.weights.sum(axis=1), 1.0)


def test_rescaled_targets_give_the_rescaled_mixture():
    X, y = heteroscedastic(200)
    plain = DistilledMDNRegressor(**FAST).fit(X, y).predict_dist(X[:20])
    scaled = DistilledMDNRegressor(**FAST).fit(X, 10.0 * y + 5.0).predict_dist(X[:20])
    np.testing.assert_allclose(scaled.means, 10.0 * plain.means + 5.0, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(scaled.stds, 10.0 * plain.stds, rtol=1e-3)
    np.testing.assert_allclose(scaled.weights, plain.weights, atol=1e-4)
    np.testing.assert_allclose(scaled.logpdf(10.0 * y[:20] + 5.0),
                               plain.logpdf(y[:20]) - np.log(10.0), atol=1e-3)


def test_samples_follow_the_predicted_distribution(fitted_1d):
    model, X, _ = fitted_1d
    draws = model.sample(X[:30], n_samples=4000)
    dist = model.predict_dist(X[:30])
    for level in (0.1, 0.5, 0.9):
        below = np.mean(draws <= dist.ppf(level)[:, None], axis=1)
        np.testing.assert_allclose(below, level, atol=0.04)  # 5 binomial standard errors


# ---------------------------------------------------------------- the teacher
def test_teacher_is_kept_by_default_and_scores_targets(fitted_1d):
    model, X, _ = fitted_1d
    assert isinstance(model.teacher_, EnergyNetwork)
    with torch.no_grad():
        device = model.device_
        scores = model.teacher_(torch.zeros(5, 1, device=device),
                                torch.zeros(5, 7, 1, device=device))
    assert scores.shape == (5, 7)
    assert {"nll", "nce", "distillation"} <= set(model.history_[0])


def test_teacher_weight_zero_builds_and_runs_no_teacher(monkeypatch):
    draws = CountingCalls(objectives.sample_mixture)
    monkeypatch.setattr(objectives, "sample_mixture", draws)
    X, y = heteroscedastic(100)
    model = DistilledMDNRegressor(teacher_weight=0.0, early_stopping=False, **FAST).fit(X, y)
    assert model.teacher_ is None
    assert draws.calls == 0
    assert set(model.history_[0]) == {"epoch", "nll"}
    student_parameters = sum(p.numel() for p in model.module_.student.parameters())
    assert sum(p.numel() for p in model.module_.parameters()) == student_parameters


def test_teacher_weight_half_trains_a_teacher_with_mixture_noise(monkeypatch):
    draws = CountingCalls(objectives.sample_mixture)
    monkeypatch.setattr(objectives, "sample_mixture", draws)
    X, y = heteroscedastic(100)
    DistilledMDNRegressor(**{**FAST, "batch_size": 50}).fit(X, y)
    assert draws.calls == FAST["max_epochs"] * 2  # one draw per minibatch


def test_dropping_the_teacher_frees_it_without_changing_predictions():
    X, y = heteroscedastic(200)
    kept = DistilledMDNRegressor(**FAST).fit(X, y)
    dropped = DistilledMDNRegressor(keep_teacher=False, **FAST).fit(X, y)
    assert dropped.teacher_ is None
    assert not any(name.startswith("teacher") for name in dropped.module_.state_dict())
    np.testing.assert_array_equal(dropped.predict(X), kept.predict(X))
    assert len(pickle.dumps(dropped)) < len(pickle.dumps(kept))


def test_pickle_round_trip_keeps_the_teacher(fitted_1d):
    model, X, _ = fitted_1d
    restored = pickle.loads(pickle.dumps(model))
    assert isinstance(restored.teacher_, EnergyNetwork)
    with torch.no_grad():
        inputs = torch.zeros(3, 1, device=model.device_)
        points = torch.zeros(3, 5, 1, device=model.device_)
        torch.testing.assert_close(restored.teacher_(inputs, points),
                                   model.teacher_(inputs, points))


def test_warm_start_continues_training_and_rebuilds_a_dropped_teacher():
    X, y = heteroscedastic(200)
    model = DistilledMDNRegressor(warm_start=True, keep_teacher=False, **FAST).fit(X, y)
    weights = model.module_.student.head.output.weight.detach().clone()
    model.set_params(keep_teacher=True).fit(X, y)
    assert not torch.allclose(model.module_.student.head.output.weight.detach(), weights)
    assert isinstance(model.teacher_, EnergyNetwork)
    assert "nce" in model.history_[-1]


def test_custom_feature_extractor_gives_each_network_its_own():
    X, y = heteroscedastic(100)
    model = DistilledMDNRegressor(feature_extractor=MLPExtractor,
                                  feature_extractor_kwargs={"in_features": 1,
                                                            "hidden_sizes": (8,)},
                                  **FAST).fit(X, y)
    assert model.module_.student.extractor is not model.teacher_.extractor
    assert model.predict(X[:3]).shape == (3,)


def test_image_inputs_get_a_convolutional_extractor_per_network():
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8, 3))
    y = images.mean(axis=(1, 2, 3))
    model = DistilledMDNRegressor(**FAST).fit(images, y)
    assert model.channel_axis_ == 3
    assert model.predict(images[:5]).shape == (5,)
    assert model.module_.student.extractor is not model.teacher_.extractor


def test_feature_extractor_returning_one_shared_module_is_rejected():
    X, y = heteroscedastic(50)
    shared = MLPExtractor(1, (8,))
    with pytest.raises(ValueError, match="new module"):
        DistilledMDNRegressor(feature_extractor=lambda: shared, **FAST).fit(X, y)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, name",
    [
        ({"teacher_weight": 1.5}, "teacher_weight"),
        ({"teacher_weight": -0.1}, "teacher_weight"),
        ({"keep_teacher": "yes"}, "keep_teacher"),
        ({"n_components": 0}, "n_components"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    X, y = heteroscedastic(20)
    with pytest.raises(ValueError, match=name):
        DistilledMDNRegressor(**{**FAST, **params}).fit(X, y)
