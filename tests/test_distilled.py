"""Behaviour of DistilledMDNRegressor: shapes, the teacher, accuracy, sklearn citizenship."""

import pickle

import numpy as np
import pytest
import torch
from helpers import FAST, heteroscedastic
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skebm import DistilledMDNRegressor, _distilled
from skebm.datasets import make_gustafsson2020
from skebm.distributions import GaussianMixtureDistribution
from skebm.metrics import gustafsson2020_kl
from skebm.nn import EnergyNetwork, MLPExtractor


@pytest.fixture(scope="module")
def fitted_1d():
    X, y = heteroscedastic()
    model = DistilledMDNRegressor(max_epochs=30, n_noise_samples=64, early_stopping=False,
                                  random_state=0)
    return model.fit(X, y), X, y


@pytest.fixture(scope="module")
def fitted_2d():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    Y = np.column_stack([X[:, 0], -X[:, 1]]) + 0.3 * rng.normal(size=(300, 2))
    model = DistilledMDNRegressor(max_epochs=40, n_noise_samples=32, random_state=0)
    return model.fit(X, Y), X, Y


class CountingCalls:
    """Wraps a function and counts its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


# ---------------------------------------------------------------- shapes
def test_predict_shape_follows_target_shape():
    X, y = heteroscedastic(100)
    assert DistilledMDNRegressor(**FAST).fit(X, y).predict(X).shape == (100,)
    assert DistilledMDNRegressor(**FAST).fit(X, y[:, None]).predict(X).shape == (100, 1)


def test_two_dimensional_targets_give_matching_shapes(fitted_2d):
    model, X, Y = fitted_2d
    assert model.predict(X[:7]).shape == (7, 2)
    assert model.predict(X[:7], kind="mode").shape == (7, 2)
    assert model.sample(X[:7], n_samples=11).shape == (7, 11, 2)
    dist = model.predict_dist(X[:7])
    assert dist.logpdf(Y[:7]).shape == (7,)
    assert dist.logpdf(np.repeat(Y[:7, None, :], 5, axis=1)).shape == (7, 5)
    assert dist.cdf(Y[:7]).shape == (7,)
    assert dist.ppf(0.3).shape == (7, 2)
    assert dist.std().shape == (7, 2)


def test_outputs_are_float64_numpy(fitted_1d):
    model, X, y = fitted_1d
    dist = model.predict_dist(X[:4])
    for value in (model.predict(X[:4]), model.predict(X[:4], kind="mode"), dist.mean(),
                  dist.var(), dist.logpdf(y[:4]), dist.cdf(y[:4]), dist.ppf(0.2),
                  model.sample(X[:4], 3)):
        assert isinstance(value, np.ndarray) and value.dtype == np.float64


# ---------------------------------------------------------------- the mixture
def test_predict_dist_is_the_networks_mixture_in_user_units(fitted_1d):
    model, X, _ = fitted_1d
    dist = model.predict_dist(X[:6])
    assert isinstance(dist, GaussianMixtureDistribution)
    assert dist.n_components == model.n_components
    scaler = model._input_scaler, model._target_scaler
    with torch.no_grad():
        log_weights, means, log_stds = (
            p.double().numpy() for p in model.module_.student(scaler[0].transform(X[:6]))
        )
    np.testing.assert_allclose(dist.log_weights, log_weights, atol=1e-6)
    np.testing.assert_allclose(dist.means, means * scaler[1].scale + scaler[1].mean, rtol=1e-6)
    np.testing.assert_allclose(dist.stds, np.exp(log_stds) * scaler[1].scale, rtol=1e-6)


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
        scores = model.teacher_(torch.zeros(5, 1), torch.zeros(5, 7, 1))
    assert scores.shape == (5, 7)
    assert {"nll", "nce", "distillation"} <= set(model.history_[0])


def test_teacher_weight_zero_builds_and_runs_no_teacher(monkeypatch):
    draws = CountingCalls(_distilled.draw_mixture)
    monkeypatch.setattr(_distilled, "draw_mixture", draws)
    X, y = heteroscedastic(100)
    model = DistilledMDNRegressor(teacher_weight=0.0, early_stopping=False, **FAST).fit(X, y)
    assert model.teacher_ is None
    assert draws.calls == 0
    assert set(model.history_[0]) == {"epoch", "nll"}
    student_parameters = sum(p.numel() for p in model.module_.student.parameters())
    assert sum(p.numel() for p in model.module_.parameters()) == student_parameters


def test_teacher_weight_half_trains_a_teacher_with_mixture_noise(monkeypatch):
    draws = CountingCalls(_distilled.draw_mixture)
    monkeypatch.setattr(_distilled, "draw_mixture", draws)
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


def test_teacher_and_mixture_losses_train_disjoint_networks():
    X, y = heteroscedastic(100)
    model = DistilledMDNRegressor(**FAST).fit(X, y)
    module = model.module_
    batch_loss = model._batch_loss(module, torch.Generator().manual_seed(0))
    inputs = model._input_scaler.transform(X[:16])
    targets = torch.as_tensor(((y[:16] - y.mean()) / y.std())[:, None], dtype=torch.float32)
    for part, trained, untouched in (("nce", module.teacher, module.student),
                                     ("distillation", module.student, module.teacher)):
        module.zero_grad(set_to_none=True)
        batch_loss(inputs, targets)[1][part].backward()
        assert all(p.grad is None or not p.grad.any() for p in untouched.parameters())
        assert any(p.grad is not None and p.grad.any() for p in trained.parameters())


# ---------------------------------------------------------------- accuracy
def test_heteroscedastic_mean_and_spread_match_the_truth(fitted_1d):
    model, _, _ = fitted_1d
    grid = np.linspace(-1.5, 1.5, 13)[:, None]
    dist = model.predict_dist(grid)
    np.testing.assert_allclose(dist.mean(), 2 * grid[:, 0], atol=0.15)
    # A smooth network rounds off the kink of the true std at x = 0; away from it
    # the spread must match, and at it be clearly narrower than the average 0.5.
    away = np.abs(grid[:, 0]) > 0.2
    np.testing.assert_allclose(dist.std()[away], 0.2 + 0.3 * np.abs(grid[away, 0]), rtol=0.2)
    assert dist.std()[~away][0] < 0.35


def test_score_is_the_mean_log_likelihood(fitted_1d):
    model, X, y = fitted_1d
    assert model.score(X, y) == pytest.approx(np.mean(model.predict_dist(X).logpdf(y)))
    # E log N(y; 2x, s(x)^2) with s = 0.2 + 0.3|x|, x ~ U(-2, 2), is -0.658
    assert -0.76 < model.score(X, y) < -0.5


def test_mode_prediction_is_the_density_maximum(fitted_1d):
    model, X, _ = fitted_1d
    dist = model.predict_dist(X[:20])
    mode = model.predict(X[:20], kind="mode")
    grid = np.linspace(-6, 6, 4001)
    best_on_grid = dist.logpdf(np.broadcast_to(grid, (20, grid.size))).max(axis=1)
    assert np.all(dist.logpdf(mode) >= best_on_grid - 1e-6)
    np.testing.assert_allclose(mode, 2 * X[:20, 0], atol=0.5)


def test_two_dimensional_targets_are_learned(fitted_2d):
    model, X, Y = fitted_2d
    truth = np.column_stack([X[:, 0], -X[:, 1]])
    assert np.mean((model.predict(X) - truth) ** 2) < 0.1
    np.testing.assert_allclose(model.predict_dist(X).std().mean(axis=0), 0.3, atol=0.1)


def test_short_fit_on_first_toy_set_beats_a_single_gaussian():
    X, y = make_gustafsson2020(1000, random_state=0)
    model = DistilledMDNRegressor(max_epochs=20, n_noise_samples=32, batch_size=32,
                                  random_state=0).fit(X, y)
    # A Gaussian fitted per x scores about 0.3 here; a broken model far worse.
    assert gustafsson2020_kl(model, n_grid=256) < 0.15


@pytest.mark.slow
def test_default_model_matches_the_true_density_of_the_first_toy_set():
    X, y = make_gustafsson2020(2000, random_state=0)
    model = DistilledMDNRegressor(random_state=0).fit(X, y)
    assert gustafsson2020_kl(model, n_grid=512) < 0.06


# ---------------------------------------------------------------- sklearn citizenship
def test_every_method_needs_a_fitted_model():
    model, X = DistilledMDNRegressor(), np.zeros((3, 1))
    for call in (model.predict, model.predict_dist, lambda X: model.sample(X, 2),
                 lambda X: model.score(X, np.zeros(3))):
        with pytest.raises(NotFittedError):
            call(X)
    assert not hasattr(model, "teacher_")


def test_same_random_state_gives_identical_fits_and_predictions():
    X, y = heteroscedastic(200)
    a = DistilledMDNRegressor(**FAST).fit(X, y)
    b = DistilledMDNRegressor(**FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.sample(X, 5), b.sample(X, 5))
    np.testing.assert_array_equal(a.sample(X, 5), a.sample(X, 5))
    c = DistilledMDNRegressor(**{**FAST, "random_state": 1}).fit(X, y)
    assert not np.allclose(a.predict(X), c.predict(X))


def test_pickle_round_trip_keeps_predictions_and_the_teacher(fitted_1d):
    model, X, _ = fitted_1d
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X[:10]), model.predict(X[:10]))
    np.testing.assert_array_equal(restored.sample(X[:10], 4), model.sample(X[:10], 4))
    assert isinstance(restored.teacher_, EnergyNetwork)
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted_1d):
    model, _, _ = fitted_1d
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "module_")


def test_warm_start_continues_training_and_rebuilds_a_dropped_teacher():
    X, y = heteroscedastic(200)
    model = DistilledMDNRegressor(warm_start=True, keep_teacher=False, **FAST).fit(X, y)
    weights = model.module_.student.head.output.weight.detach().clone()
    model.set_params(keep_teacher=True).fit(X, y)
    assert not np.allclose(model.module_.student.head.output.weight.detach(), weights)
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


def test_early_stopping_records_validation_scores_and_can_stop_early():
    X, y = heteroscedastic(300)
    model = DistilledMDNRegressor(early_stopping=True, n_iter_no_change=2, max_epochs=200,
                                  n_noise_samples=16, random_state=0).fit(X, y)
    assert "validation_score" in model.history_[0]
    assert model.n_iter_ < 200


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
