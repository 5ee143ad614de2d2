"""Behaviour of EnergyRegressor: shapes, fitting accuracy, sklearn citizenship."""

import pickle

import numpy as np
import pytest
from helpers import FAST, heteroscedastic
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from skebm import EnergyRegressor
from skebm.datasets import make_gustafsson2020
from skebm.metrics import gustafsson2020_kl


@pytest.fixture(scope="module")
def fitted_1d():
    X, y = heteroscedastic()
    return EnergyRegressor(max_epochs=40, random_state=0).fit(X, y), X, y


@pytest.fixture(scope="module")
def fitted_2d():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    Y = np.column_stack([X[:, 0], -X[:, 1]]) + 0.3 * rng.normal(size=(300, 2))
    return EnergyRegressor(max_epochs=60, random_state=0).fit(X, Y), X, Y


# ---------------------------------------------------------------- shapes
def test_predict_shape_follows_target_shape():
    X, y = heteroscedastic(100)
    assert EnergyRegressor(**FAST).fit(X, y).predict(X).shape == (100,)
    assert EnergyRegressor(**FAST).fit(X, y[:, None]).predict(X).shape == (100, 1)


def test_two_dimensional_targets_give_matching_shapes(fitted_2d):
    model, X, Y = fitted_2d
    assert model.predict(X[:7]).shape == (7, 2)
    assert model.sample(X[:7], n_samples=11).shape == (7, 11, 2)
    dist = model.predict_dist(X[:7])
    assert dist.logpdf(Y[:7]).shape == (7,)
    assert dist.logpdf(np.repeat(Y[:7, None, :], 5, axis=1)).shape == (7, 5)
    assert dist.cdf(Y[:7]).shape == (7,)
    assert dist.ppf(0.3).shape == (7, 2)
    assert dist.std().shape == (7, 2)


def test_two_dimensional_targets_are_learned(fitted_2d):
    model, X, Y = fitted_2d
    truth = np.column_stack([X[:, 0], -X[:, 1]])
    assert np.mean((model.predict(X) - truth) ** 2) < 0.1
    np.testing.assert_allclose(model.predict_dist(X).std().mean(axis=0), 0.3, atol=0.1)


def test_outputs_are_float64_numpy(fitted_1d):
    model, X, y = fitted_1d
    dist = model.predict_dist(X[:4])
    for value in (model.predict(X[:4]), dist.mean(), dist.var(), dist.logpdf(y[:4]),
                  dist.cdf(y[:4]), dist.ppf(0.2), model.sample(X[:4], 3)):
        assert isinstance(value, np.ndarray) and value.dtype == np.float64


# ---------------------------------------------------------------- accuracy
def test_heteroscedastic_mean_and_spread_match_the_truth(fitted_1d):
    model, _, _ = fitted_1d
    # away from the kink of the noise scale at x = 0, which a smooth network rounds off
    grid = np.concatenate([np.linspace(-1.5, -0.5, 5), np.linspace(0.5, 1.5, 5)])[:, None]
    dist = model.predict_dist(grid)
    np.testing.assert_allclose(dist.mean(), 2 * grid[:, 0], atol=0.15)
    np.testing.assert_allclose(dist.std(), 0.2 + 0.3 * np.abs(grid[:, 0]), rtol=0.25)


def test_importance_sampling_mean_agrees_with_grid_mean(fitted_1d):
    model, X, _ = fitted_1d
    draws = model.sample(X[:50], n_samples=4000)
    np.testing.assert_allclose(draws.mean(axis=1), model.predict(X[:50]), atol=0.05)


def test_mode_is_at_least_as_likely_as_any_grid_point(fitted_1d):
    model, X, _ = fitted_1d
    dist = model.predict_dist(X[:20])
    mode = model.predict(X[:20], kind="mode")
    grid = np.linspace(-6, 6, 2001)
    best_on_grid = dist.logpdf(np.broadcast_to(grid, (20, grid.size))).max(axis=1)
    # log q can carry spikes narrower than the 2048-point grid the ascent starts from.
    assert np.all(dist.logpdf(mode) >= best_on_grid - 0.02)
    np.testing.assert_allclose(mode, 2 * X[:20, 0], atol=0.5)


def test_score_is_the_mean_log_likelihood(fitted_1d):
    model, X, y = fitted_1d
    assert model.score(X, y) == pytest.approx(np.mean(model.predict_dist(X).logpdf(y)))
    # E log N(y; 2x, s(x)^2) with s = 0.2 + 0.3|x|, x ~ U(-2, 2), is -0.658
    assert -0.76 < model.score(X, y) < -0.5


@pytest.mark.slow
def test_default_model_matches_the_true_density_of_the_first_toy_set():
    X, y = make_gustafsson2020(2000, random_state=0)
    kl = gustafsson2020_kl(EnergyRegressor(random_state=0).fit(X, y), n_grid=512)
    assert kl < 0.06


def test_short_fit_on_first_toy_set_beats_a_single_gaussian():
    X, y = make_gustafsson2020(1000, random_state=0)
    model = EnergyRegressor(max_epochs=30, random_state=0).fit(X, y)
    kl = gustafsson2020_kl(model, n_grid=256)
    # A Gaussian fitted per x scores about 0.3 here; a broken model far worse.
    assert kl < 0.15


# ---------------------------------------------------------------- residual energy
def test_residual_energy_learns_the_density_and_predicts_with_the_proposal_term():
    X, y = heteroscedastic(400)
    model = EnergyRegressor(residual=True, max_epochs=20, random_state=0).fit(X, y)
    assert {"nce", "proposal_nll"} <= model.history_[0].keys()
    # E log N(y; 2x, s(x)^2) with s = 0.2 + 0.3|x| is about -0.66; unconditional about -2.0.
    assert model.score(X, y) > -0.9
    mode = model.predict(X[:20], kind="mode")
    assert np.mean(np.abs(mode - 2 * X[:20, 0])) < 0.35  # noise sd 0.2-0.8 around 2x
    dist = model.predict_dist(X[:20])
    grid = np.linspace(-8, 8, 4001)
    best_on_grid = dist.logpdf(np.broadcast_to(grid, (20, grid.size))).max(axis=1)
    # log q can carry spikes narrower than the 2048-point grid the ascent starts from.
    assert np.all(dist.logpdf(mode) >= best_on_grid - 0.02)


# ---------------------------------------------------------------- gaussian baseline
def test_gaussian_noise_baseline_learns_and_predicts():
    X, y = heteroscedastic(400)
    model = EnergyRegressor(noise="gaussian", max_epochs=20, random_state=0).fit(X, y)
    assert np.mean((model.predict(X) - 2 * X[:, 0]) ** 2) < 0.1


def test_grid_search_over_sigmas_rejects_absurd_widths():
    X, y = heteroscedastic(400)
    search = GridSearchCV(
        EnergyRegressor(noise="gaussian", max_epochs=20, early_stopping=False, random_state=0),
        {"sigmas": [(0.05, 0.4), (0.2, 1.6), (200.0, 1600.0)]},
        cv=2,
    )
    search.fit(X, y)
    assert search.best_params_["sigmas"] == (0.2, 1.6)
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] < scores[1] - 0.1


# ---------------------------------------------------------------- sklearn citizenship
def test_every_method_needs_a_fitted_model():
    model, X = EnergyRegressor(), np.zeros((3, 1))
    for call in (model.predict, model.predict_dist, lambda X: model.sample(X, 2),
                 lambda X: model.score(X, np.zeros(3))):
        with pytest.raises(NotFittedError):
            call(X)


def test_same_random_state_gives_identical_fits_and_predictions():
    X, y = heteroscedastic(200)
    a = EnergyRegressor(**FAST).fit(X, y)
    b = EnergyRegressor(**FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.sample(X, 5), b.sample(X, 5))
    np.testing.assert_array_equal(a.sample(X, 5), a.sample(X, 5))


def test_predictions_do_not_depend_on_chunk_size(fitted_2d, monkeypatch):
    model, X, Y = fitted_2d
    before = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    monkeypatch.setattr("skebm._evaluator.PAIRS_PER_CHUNK", 3000)
    after = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_pickle_round_trip_keeps_predictions(fitted_1d):
    model, X, _ = fitted_1d
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X[:10]), model.predict(X[:10]))
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted_1d):
    model, _, _ = fitted_1d
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "module_")


def test_warm_start_continues_training():
    X, y = heteroscedastic(200)
    model = EnergyRegressor(warm_start=True, **FAST).fit(X, y)
    weights = model.module_.energy_head.input_projection.weight.detach().clone()
    model.fit(X, y)
    assert not np.allclose(model.module_.energy_head.input_projection.weight.detach(), weights)
    assert model.module_.energy_head.input_projection.weight.shape == weights.shape


def test_dataframe_feature_names_are_recorded_and_checked():
    pd = pytest.importorskip("pandas")
    X, y = heteroscedastic(100)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 0] ** 2})
    model = EnergyRegressor(**FAST).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    assert model.n_features_in_ == 2


def test_early_stopping_records_validation_scores_and_can_stop_early():
    X, y = heteroscedastic(300)
    model = EnergyRegressor(early_stopping=True, n_iter_no_change=2, max_epochs=200,
                            n_noise_samples=32, random_state=0).fit(X, y)
    assert "validation_score" in model.history_[0]
    assert model.n_iter_ < 200


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.array([[np.nan], [1.0], [2.0]]), np.arange(3.0), "NaN"),
        (np.ones((3, 1)), np.array([1.0, np.inf, 2.0]), "infinity"),
        (np.ones((3, 1)), np.ones(4), "inconsistent numbers of samples"),
        (np.ones((1, 1)), np.ones(1), "minimum of 2"),
        (np.ones((3, 1)), np.ones((3, 1, 1)), "y"),
    ],
)
def test_bad_training_data_raises_value_error(X, y, message):
    with pytest.raises(ValueError, match=message):
        EnergyRegressor(**FAST).fit(X, y)


def test_wrong_feature_count_at_predict_is_reported(fitted_1d):
    model, _, _ = fitted_1d
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 3)))


@pytest.mark.parametrize(
    "params, name",
    [
        ({"noise": "uniform"}, "noise"),
        ({"n_components": 0}, "n_components"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"sigmas": (0.1, -0.5), "noise": "gaussian"}, "sigmas"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    X, y = heteroscedastic(20)
    with pytest.raises(ValueError, match=name):
        EnergyRegressor(**{**FAST, **params}).fit(X, y)


def test_bad_query_shapes_are_reported(fitted_1d):
    model, X, y = fitted_1d
    dist = model.predict_dist(X[:5])
    with pytest.raises(ValueError, match="shape"):
        dist.logpdf(y[:4])
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        dist.ppf(1.5)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(X[:5], n_samples=0)
    with pytest.raises(ValueError, match="kind"):
        model.predict(X[:5], kind="median")


def test_mixed_precision_fits_and_predicts_finite_float64():
    X, y = heteroscedastic(200)
    model = EnergyRegressor(mixed_precision=True, **FAST).fit(X, y)
    assert type(model.module_.extractor).__name__ == "AutocastExtractor"
    prediction = model.predict(X[:5])
    assert prediction.dtype == np.float64 and np.all(np.isfinite(prediction))


def test_density_integrates_to_one_beyond_the_training_range():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1))
    y = 1000 + 300 * rng.normal(size=300)
    dist = EnergyRegressor(max_epochs=2, random_state=0).fit(X, y).predict_dist(X[:3])
    grid = np.linspace(-5000, 7000, 100_001)
    mass = np.trapezoid(dist.pdf(np.broadcast_to(grid, (3, grid.size))), grid, axis=1)
    np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def test_mode_works_inside_inference_mode(fitted_1d):
    import torch

    model, X, _ = fitted_1d
    expected = model.predict(X[:3], kind="mode")
    with torch.inference_mode():
        np.testing.assert_allclose(model.predict(X[:3], kind="mode"), expected)
