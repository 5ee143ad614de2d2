"""Behaviour every skebm estimator shares: shapes, accuracy, sklearn citizenship.

Each test runs for both estimators; what only one of them does is tested in
``test_energy_regressor.py`` and ``test_distilled.py``.
"""

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import FAST, heteroscedastic
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm._inputs import model_inputs
from skebm._networks import auto_hidden_size
from skebm._preprocessing import quantile_bin_edges
from skebm.datasets import make_gustafsson2020
from skebm.metrics import gustafsson2020_kl
from skebm.nn import EncodedExtractor, MLPExtractor

ESTIMATORS = {"energy": EnergyRegressor, "distilled": DistilledMDNRegressor}
# Settings that fit each estimator well enough for the accuracy tests below.
# A fixed number of epochs: these check what a model trained that long learns
# (the energy model on 2-D targets: the default budget, what users get).
SETTINGS_1D = {"energy": dict(max_epochs=40, early_stopping=False),
               "distilled": dict(max_epochs=30, early_stopping=False)}
SETTINGS_2D = {"energy": dict(), "distilled": dict(max_epochs=40, n_noise_samples=32)}
SETTINGS_TOY = {"energy": dict(max_epochs=30),
                "distilled": dict(max_epochs=20, n_noise_samples=32, batch_size=32)}


@pytest.fixture(params=sorted(ESTIMATORS))
def estimator(request):
    """Each estimator class."""
    return ESTIMATORS[request.param]


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted_1d(request):
    X, y = heteroscedastic()
    model = ESTIMATORS[request.param](**SETTINGS_1D[request.param], random_state=0)
    return model.fit(X, y), X, y


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted_2d(request):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    Y = np.column_stack([X[:, 0], -X[:, 1]]) + 0.3 * rng.normal(size=(300, 2))
    model = ESTIMATORS[request.param](**SETTINGS_2D[request.param], random_state=0)
    return model.fit(X, Y), X, Y


# ---------------------------------------------------------------- shapes
def test_predict_shape_follows_target_shape(estimator):
    X, y = heteroscedastic(100)
    flat, column = estimator(**FAST).fit(X, y), estimator(**FAST).fit(X, y[:, None])
    assert flat.predict(X).shape == (100,) and flat.sample(X[:4], 3).shape == (4, 3)
    assert column.predict(X).shape == (100, 1)
    assert column.sample(X[:4], 3).shape == (4, 3, 1)


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


# ---------------------------------------------------------------- accuracy
def test_heteroscedastic_mean_and_spread_match_the_truth(fitted_1d):
    model, _, _ = fitted_1d
    # away from the kink of the noise scale at x = 0, which a smooth network rounds off
    grid = np.concatenate([np.linspace(-1.5, -0.5, 5), np.linspace(0.5, 1.5, 5)])[:, None]
    dist = model.predict_dist(grid)
    np.testing.assert_allclose(dist.mean(), 2 * grid[:, 0], atol=0.15)
    np.testing.assert_allclose(dist.std(), 0.2 + 0.3 * np.abs(grid[:, 0]), rtol=0.25)


def test_score_is_the_mean_log_likelihood(fitted_1d):
    model, X, y = fitted_1d
    assert model.score(X, y) == pytest.approx(np.mean(model.predict_dist(X).logpdf(y)))
    # E log N(y; 2x, s(x)^2) with s = 0.2 + 0.3|x|, x ~ U(-2, 2), is -0.658
    assert -0.76 < model.score(X, y) < -0.5


def test_mode_is_at_least_as_likely_as_any_grid_point(fitted_1d):
    model, X, _ = fitted_1d
    dist = model.predict_dist(X[:20])
    mode = model.predict(X[:20], kind="mode")
    grid = np.linspace(-6, 6, 4001)
    best_on_grid = dist.logpdf(np.broadcast_to(grid, (20, grid.size))).max(axis=1)
    # The mixture's mode is exact; the energy's is found by gradient ascent.
    tolerance = 1e-6 if isinstance(model, DistilledMDNRegressor) else 1e-3
    assert np.all(dist.logpdf(mode) >= best_on_grid - tolerance)
    np.testing.assert_allclose(mode, 2 * X[:20, 0], atol=0.5)


def test_sample_mean_agrees_with_the_predicted_mean(fitted_1d):
    model, X, _ = fitted_1d
    draws = model.sample(X[:50], n_samples=4000)
    np.testing.assert_allclose(draws.mean(axis=1), model.predict(X[:50]), atol=0.05)


def test_mode_works_inside_inference_mode(fitted_1d):
    model, X, _ = fitted_1d
    expected = model.predict(X[:3], kind="mode")
    with torch.inference_mode():
        np.testing.assert_allclose(model.predict(X[:3], kind="mode"), expected)


def test_two_dimensional_targets_are_learned(fitted_2d):
    model, X, Y = fitted_2d
    truth = np.column_stack([X[:, 0], -X[:, 1]])
    assert np.mean((model.predict(X) - truth) ** 2) < 0.1
    # The noise sd is 0.3. Energy models fitted on these 300 rows with seeds 0-4 learned
    # 0.31-0.41 (0.31-0.36 without the input encoding), the same on torch 2.13 and 2.14;
    # a model whose spread were its proposal's (about 0.5) or the targets' (1.0) fails.
    np.testing.assert_allclose(model.predict_dist(X).std().mean(axis=0), 0.3, atol=0.13)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_short_fit_on_first_toy_set_beats_a_single_gaussian(name):
    X, y = make_gustafsson2020(1000, random_state=0)
    model = ESTIMATORS[name](**SETTINGS_TOY[name], random_state=0).fit(X, y)
    # A Gaussian fitted per x scores about 0.3 here; a broken model far worse.
    assert gustafsson2020_kl(model, n_grid=256) < 0.15


@pytest.mark.slow
def test_default_model_matches_the_true_density_of_the_first_toy_set(estimator):
    X, y = make_gustafsson2020(2000, random_state=0)
    assert gustafsson2020_kl(estimator(random_state=0).fit(X, y), n_grid=512) < 0.06


# ---------------------------------------------------------------- sklearn citizenship
def test_every_method_needs_a_fitted_model(estimator):
    model, X = estimator(), np.zeros((3, 1))
    for call in (model.predict, model.predict_dist, lambda X: model.sample(X, 2),
                 lambda X: model.score(X, np.zeros(3))):
        with pytest.raises(NotFittedError):
            call(X)


def test_same_random_state_gives_identical_fits_and_predictions(estimator):
    X, y = heteroscedastic(200)
    a, b = estimator(**FAST).fit(X, y), estimator(**FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.sample(X, 5), b.sample(X, 5))
    np.testing.assert_array_equal(a.sample(X, 5), a.sample(X, 5))
    c = estimator(**{**FAST, "random_state": 1}).fit(X, y)
    assert not np.allclose(a.predict(X), c.predict(X))


def test_pickle_round_trip_keeps_predictions(fitted_1d):
    model, X, _ = fitted_1d
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X[:10]), model.predict(X[:10]))
    np.testing.assert_array_equal(restored.sample(X[:10], 4), model.sample(X[:10], 4))
    assert restored.device_ == model.device_  # the CPU, or the GPU it was fitted on
    assert all(p.device.type == model.device_.type for p in restored.module_.parameters())


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted_1d):
    model, _, _ = fitted_1d
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "module_")


def test_warm_start_continues_training(estimator):
    X, y = heteroscedastic(200)
    model = estimator(warm_start=True, **FAST).fit(X, y)
    before = [p.detach().clone() for p in model.module_.parameters()]
    model.fit(X, y)
    after = list(model.module_.parameters())
    assert [p.shape for p in after] == [p.shape for p in before]
    assert not all(torch.allclose(p.detach(), q) for p, q in zip(after, before))
    assert [record["epoch"] for record in model.history_] == list(range(1, 7))


def test_dataframe_feature_names_are_recorded_and_checked(estimator):
    X, y = heteroscedastic(100)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 0] ** 2})
    model = estimator(**FAST).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    assert model.n_features_in_ == 2


def test_early_stopping_records_validation_scores_and_can_stop_early(estimator):
    X, y = heteroscedastic(300)
    model = estimator(early_stopping=True, n_iter_no_change=2, max_epochs=200,
                      n_noise_samples=16, random_state=0).fit(X, y)
    assert "validation_score" in model.history_[0]
    assert model.n_iter_ < 200


def test_the_background_changes_predictions_not_training(estimator):
    X, y = heteroscedastic(300)
    settings = dict(FAST, max_epochs=6, early_stopping=True, n_iter_no_change=2)
    plain = estimator(**settings, background_weight=0.0).fit(X, y)
    mixed = estimator(**settings).fit(X, y)  # background_weight="auto"
    weight = mixed.background_weight_
    assert weight == pytest.approx(1.0 / 301.0)
    # The held-out checks score the network alone: the same history and network.
    assert [r.get("validation_score") for r in mixed.history_] == \
        [r.get("validation_score") for r in plain.history_]
    for name, value in plain.module_.state_dict().items():
        torch.testing.assert_close(mixed.module_.state_dict()[name], value, rtol=0, atol=0)
    # Predictions are the mixture of that network with N(mean of y, std of y).
    queries = np.broadcast_to(np.linspace(-30.0, 30.0, 7), (5, 7))  # some far out
    expected = np.logaddexp(np.log1p(-weight) + plain.predict_dist(X[:5]).logpdf(queries),
                            np.log(weight) + norm.logpdf(queries, np.mean(y), np.std(y)))
    np.testing.assert_allclose(mixed.predict_dist(X[:5]).logpdf(queries), expected, rtol=1e-9)
    np.testing.assert_allclose(mixed.predict(X[:5]),
                               (1 - weight) * plain.predict(X[:5]) + weight * np.mean(y))


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
def test_bad_training_data_raises_value_error(estimator, X, y, message):
    with pytest.raises(ValueError, match=message):
        estimator(**FAST).fit(X, y)


def test_wrong_feature_count_at_predict_is_reported(fitted_1d):
    model, _, _ = fitted_1d
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 3)))


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_components": 0}, "n_components"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"device": "tpu"}, "device"),
        ({"hidden_size": "wide"}, "hidden_size"),
        ({"hidden_size": 0}, "hidden_size"),
    ],
)
def test_invalid_parameters_are_named(estimator, params, name):
    X, y = heteroscedastic(20)
    with pytest.raises(ValueError, match=name):
        estimator(**{**FAST, **params}).fit(X, y)


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
        model.predict(X[:5], kind="quantile")


def test_mixed_precision_fits_and_predicts_finite_float64(estimator):
    X, y = heteroscedastic(200)
    model = estimator(mixed_precision=True, **FAST).fit(X, y)
    prediction = model.predict(X[:5])
    assert prediction.dtype == np.float64 and np.all(np.isfinite(prediction))


# ---------------------------------------------------------------- early stopping "auto"
def test_auto_early_stopping_holds_out_rows_only_when_enough_would_be_held_out(estimator):
    X, y = heteroscedastic(300)
    large = estimator(**FAST).fit(X, y)  # 30 held-out rows
    assert "validation_score" in large.history_[-1]
    small = estimator(**FAST).fit(X[:150], y[:150])  # 15 would be held out: too few
    assert all("validation_score" not in record for record in small.history_)
    tiny = estimator(**FAST).fit(X[:5], y[:5])
    assert np.all(np.isfinite(tiny.predict(X[:5])))


def test_validation_indices_are_the_rows_early_stopping_scored(estimator):
    X, y = heteroscedastic(300)
    model = estimator(**dict(FAST, max_epochs=4), early_stopping=True,
                      n_iter_no_change=100).fit(X, y)
    rows = model.validation_indices_
    assert rows.dtype == np.intp and len(rows) == 30
    assert np.all(np.diff(rows) > 0) and 0 <= rows[0] and rows[-1] < 300
    # The restored network is the best check's: its held-out score is the
    # bare network's mean log-density on exactly these rows, not on others.
    best = max(record["validation_score"] for record in model.history_)

    def bare_score(index):
        dist = model._distribution(model_inputs(model._input_scaler, X[index]),
                                   background=False)
        return dist.logpdf(y[index]).mean()

    assert bare_score(rows) == pytest.approx(best, abs=1e-6)
    others = np.setdiff1d(np.arange(300), rows)[:30]
    assert bare_score(others) != pytest.approx(best, abs=1e-3)
    # Without held-out rows (and on a refit without them) the attribute is empty.
    assert model.set_params(early_stopping=False).fit(X, y).validation_indices_.size == 0


def test_explicit_early_stopping_on_too_few_rows_is_refused_clearly(estimator):
    X, y = heteroscedastic(5)
    with pytest.raises(ValueError, match="validation_fraction"):
        estimator(early_stopping=True, **FAST).fit(X, y)


# ---------------------------------------------------------------- hidden_size "auto"
@pytest.mark.parametrize("n_rows, width", [(2, 32), (4000, 32), (4001, 64), (16001, 64),
                                           (10**8, 64)])
def test_auto_width_doubles_beyond_4000_rows_and_stops_at_64(n_rows, width):
    assert auto_hidden_size(n_rows) == width


def test_auto_width_shapes_the_network_and_survives_a_warm_start(estimator):
    X, y = heteroscedastic(4001)
    settings = dict(FAST, max_epochs=1, hidden_size="auto", warm_start=True)
    model = estimator(**settings).fit(X, y)
    assert model.hidden_size_ == 64
    widths = {p.shape[0] for n, p in model.module_.named_parameters() if n.endswith("bias")}
    assert {64, 256} <= widths and 32 not in widths  # heads 64 wide, MLP extractor 4 x 64
    model.fit(X[:100], y[:100])  # a warm start keeps the network, and so its width
    assert model.hidden_size_ == 64
    assert estimator(**settings).fit(X[:300], y[:300]).hidden_size_ == 32
    assert estimator(**dict(settings, hidden_size=8)).fit(X, y).hidden_size_ == 8


# ---------------------------------------------------------------- input encoding
def test_tables_are_read_beside_their_quantile_bins_by_default(estimator):
    X, y = heteroscedastic(300)
    X = np.column_stack([X, np.arange(300) % 3 == 0])  # a binary column gets fewer bins
    model = estimator(**FAST).fit(X, y)
    assert model.input_bins_ == 8
    extractor = model._trained_extractors()[0]
    assert isinstance(extractor, EncodedExtractor)
    standard = (X - X.mean(axis=0)) / X.std(axis=0)
    quantiles = np.quantile(standard[:, 0], np.linspace(0, 1, 9))
    encoding = extractor.encoding
    np.testing.assert_allclose(encoding.left[0].cpu(), quantiles[:-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose((encoding.left[0] + encoding.width[0]).cpu(), quantiles[1:],
                               rtol=1e-5, atol=1e-6)
    binary_bins = len(quantile_bin_edges(standard[:, 1:], 8)[0]) - 1
    assert binary_bins < 3 and encoding.out_features == 8 + binary_bins
    assert extractor.extractor.net[0].in_features == 2 + encoding.out_features


def test_input_bins_zero_reads_the_standardised_columns(estimator):
    X, y = heteroscedastic(200)
    model = estimator(**FAST, input_bins=0).fit(X, y)
    assert model.input_bins_ == 0 and isinstance(model._trained_extractors()[0], MLPExtractor)
    coarse = estimator(**FAST, input_bins=3).fit(X, y)
    assert coarse.input_bins_ == 3 and coarse._trained_extractors()[0].encoding.out_features == 3


def test_a_user_extractor_gets_encoded_columns_only_when_asked(estimator):
    X, y = heteroscedastic(200)
    shapes = []

    def factory(input_shape):
        shapes.append(input_shape)
        return MLPExtractor(input_shape[0], hidden_sizes=(8,))

    assert estimator(**FAST, feature_extractor=factory).fit(X, y).input_bins_ == 0
    assert estimator(**FAST, feature_extractor=factory, input_bins=4).fit(X, y).input_bins_ == 4
    first_extractors = 1 if estimator is EnergyRegressor else 2  # student and teacher
    assert shapes[:first_extractors] == [(1,)] * first_extractors
    assert shapes[first_extractors:] == [(1 + 4,)] * first_extractors


def test_input_bins_refuses_images_and_auto_leaves_them_alone(estimator):
    images = np.random.default_rng(0).random((40, 6, 6))
    y = images.mean(axis=(1, 2))
    with pytest.raises(ValueError, match="input_bins=4 encodes the columns of a table"):
        estimator(**FAST, input_bins=4).fit(images, y)
    assert estimator(**FAST).fit(images, y).input_bins_ == 0


def test_models_pickled_before_the_input_encoding_predict_as_before(estimator):
    X, y = heteroscedastic(200)
    model = estimator(**FAST, input_bins=0).fit(X, y)
    state = model.__getstate__()
    del state["input_bins"], state["input_bins_"], state["_input_bin_edges"]
    state["_skebm_pickle_format"] = 2  # the last format without the input encoding
    old = estimator.__new__(estimator)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.get_params()["input_bins"] == 0 and old.input_bins_ == 0
    np.testing.assert_array_equal(old.predict(X[:5]), model.predict(X[:5]))


# ---------------------------------------------------------------- batch normalisation
def test_batch_norm_statistics_match_the_fitted_image_networks(estimator):
    import copy

    from skebm._inputs import model_inputs, validate_inputs

    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8))
    y = images.mean(axis=(1, 2))
    # One batch of all 40 images and no held-out rows: each statistic is that batch's.
    model = estimator(max_epochs=5, batch_size=64, early_stopping=False, hidden_size=16,
                      n_noise_samples=32, random_state=0).fit(images, y)
    inputs = model_inputs(model._input_scaler, validate_inputs(model, images, reset=False))
    batch = inputs.take(torch.arange(40), model.device_)
    extractors = model._trained_extractors()
    assert len(extractors) == (2 if estimator is DistilledMDNRegressor else 1)
    for extractor in extractors:
        fresh = copy.deepcopy(extractor).train()
        norms = [m for m in fresh.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert norms
        for layer in norms:
            layer.reset_running_stats()
            layer.momentum = None
        with torch.no_grad():
            fresh(batch)
        for name, value in fresh.state_dict().items():
            torch.testing.assert_close(extractor.state_dict()[name], value)


@pytest.mark.parametrize("estimator_class", [EnergyRegressor, DistilledMDNRegressor])
def test_only_the_feature_extractor_is_taken_by_position(estimator_class):
    parameters = list(inspect.signature(estimator_class).parameters.values())
    assert parameters[0].name == "feature_extractor"
    assert parameters[0].kind is parameters[0].POSITIONAL_OR_KEYWORD
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[1:])
    assert estimator_class("cnn").get_params()["feature_extractor"] == "cnn"
    with pytest.raises(TypeError):
        estimator_class("mlp", None)
