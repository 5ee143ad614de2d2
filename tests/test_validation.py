"""Bad parameters, bad data, divergence and awkward numerics, for every estimator.

Every case must fail with a clear ``ValueError``/``TypeError`` naming the
problem (never a torch traceback, never a silent NaN) or work correctly.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
from helpers import linear_data, tiny_estimators
from sklearn.exceptions import NotFittedError

from skebm.exceptions import TrainingDivergedError

ESTIMATORS = tiny_estimators()


@pytest.fixture(params=sorted(ESTIMATORS))
def make(request):
    """A factory of fast, seeded estimators of each kind."""
    return ESTIMATORS[request.param]


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted(request):
    """(model, X, y) for a tiny model of each kind on 1-D targets, fitted once."""
    X, y = linear_data()
    return ESTIMATORS[request.param]().fit(X, y), X, y


@pytest.fixture(scope="module", params=[(kind, d) for kind in sorted(ESTIMATORS) for d in (1, 2)],
                ids=lambda p: f"{p[0]}-d{p[1]}")
def dist(request):
    """Five predictive distributions of a tiny fitted model, for 1-D and 2-D targets."""
    kind, n_targets = request.param
    X, y = linear_data(n_targets=n_targets)
    return ESTIMATORS[kind]().fit(X, y).predict_dist(X[:5])


def assert_all_finite(*arrays):
    for array in arrays:
        assert np.all(np.isfinite(array))


# ====================================================================== parameters
BAD_PARAMETERS = [
    ({"n_components": 0}, "n_components"),
    ({"n_components": 1.5}, "n_components"),
    ({"n_noise_samples": -4}, "n_noise_samples"),
    ({"hidden_size": -1}, "hidden_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": -1e-3}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"feature_extractor": "transformer"}, "feature_extractor"),
    ({"feature_extractor_kwargs": "wide"}, "feature_extractor_kwargs"),
    ({"feature_extractor_kwargs": {"n_layers": 3}}, "feature_extractor_kwargs"),
    ({"feature_extractor_kwargs": {"hidden_sizes": (-3,)}}, "hidden_sizes"),
    ({"feature_extractor_kwargs": {"hidden_sizes": (0,)}}, "hidden_sizes"),
    ({"input_bins": True}, "input_bins"),
    ({"device": "tpu"}, "device"),
    ({"device": 3}, "device"),
    ({"random_state": "seed"}, "random_state"),
    ({"early_stopping": "yes"}, "early_stopping"),
    ({"verbose": -1}, "verbose"),
]


@pytest.mark.parametrize("params, name", BAD_PARAMETERS, ids=lambda v: str(v))
def test_invalid_parameters_raise_and_name_the_parameter(make, params, name):
    X, y = linear_data(20)
    with pytest.raises((ValueError, TypeError), match=name):
        make(**params).fit(X, y)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"noise": "laplace"}, "noise"),
        ({"noise": "gaussian", "sigmas": (0.1, -0.5)}, "sigmas"),
        ({"noise": "gaussian", "sigmas": (0.0,)}, "sigmas"),
        ({"noise": "gaussian", "sigmas": (float("inf"),)}, "sigmas"),
        ({"noise": "gaussian", "sigmas": ()}, "sigmas"),
        ({"noise": "gaussian", "sigmas": [[0.1, 0.8]]}, "sigmas"),
        ({"noise": "gaussian", "sigmas": "wide"}, "sigmas"),
        ({"n_inference_samples": 0}, "n_inference_samples"),
    ],
    ids=lambda v: str(v),
)
def test_invalid_energy_parameters_raise_and_name_the_parameter(params, name):
    X, y = linear_data(20)
    with pytest.raises((ValueError, TypeError), match=name):
        ESTIMATORS["energy"](**params).fit(X, y)


@pytest.mark.parametrize(
    "params, name",
    [({"teacher_weight": 1.5}, "teacher_weight"), ({"teacher_weight": -0.1}, "teacher_weight"),
     ({"keep_teacher": "no"}, "keep_teacher")],
    ids=lambda v: str(v),
)
def test_invalid_distilled_parameters_raise_and_name_the_parameter(params, name):
    X, y = linear_data(20)
    with pytest.raises((ValueError, TypeError), match=name):
        ESTIMATORS["distilled"](**params).fit(X, y)


# ====================================================================== fit data
X_GOOD, Y_GOOD = linear_data(20)
BAD_TRAINING_DATA = {
    "nan in X": (np.where(X_GOOD > 1.0, np.nan, X_GOOD), Y_GOOD, ValueError, "NaN"),
    "inf in X": (np.where(X_GOOD > 1.0, np.inf, X_GOOD), Y_GOOD, ValueError, "infinity"),
    "nan in y": (X_GOOD, np.where(Y_GOOD > 1.0, np.nan, Y_GOOD), ValueError, "NaN"),
    "inf in y": (X_GOOD, np.where(Y_GOOD > 1.0, -np.inf, Y_GOOD), ValueError, "infinity"),
    "complex X": (X_GOOD + 1j, Y_GOOD, ValueError, "Complex"),
    "complex y": (X_GOOD, Y_GOOD + 1j, ValueError, "Complex"),
    "string X": (np.full((20, 2), "a"), Y_GOOD, ValueError, "convert string"),
    "object y": (X_GOOD, np.array(["a"] * 20, dtype=object), ValueError, "convert string"),
    "no rows": (np.empty((0, 2)), np.empty(0), ValueError, "0 sample"),
    "one row": (X_GOOD[:1], Y_GOOD[:1], ValueError, "minimum of 2"),
    "no features": (np.empty((20, 0)), Y_GOOD, ValueError, "0 feature"),
    "no target columns": (X_GOOD, np.empty((20, 0)), ValueError, "0 feature"),
    "lengths differ": (X_GOOD, Y_GOOD[:-1], ValueError, "inconsistent numbers of samples"),
    "3-D y": (X_GOOD, Y_GOOD.reshape(20, 1, 1), ValueError, "dim 3"),
    "y is None": (X_GOOD, None, ValueError, "requires y"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAINING_DATA))
def test_bad_training_data_raises_a_clear_error(make, case):
    X, y, error, message = BAD_TRAINING_DATA[case]
    with pytest.raises(error, match=message):
        make().fit(X, y)


@pytest.mark.parametrize("dates", [
    pd.DataFrame({"x": X_GOOD[:, 0], "when": pd.date_range("2020-01-01", periods=20)}),
    pd.DataFrame({"when": pd.date_range("2020-01-01", periods=20, tz="UTC")}),
    np.array(pd.date_range("2020-01-01", periods=20))[:, None],
    np.array(pd.timedelta_range(0, periods=20))[:, None],
], ids=["dataframe", "time zone", "array", "time spans"])
def test_date_columns_raise_a_type_error_naming_them(make, dates):
    name = "'when'" if isinstance(dates, pd.DataFrame) else "X"
    with pytest.raises(TypeError, match=f"{name} has dtype (datetime|timedelta)64"):
        make().fit(dates, Y_GOOD)


def test_date_columns_at_prediction_raise_a_type_error(fitted):
    model, X, _ = fitted
    frame = pd.DataFrame({"a": X[:3, 0], "b": pd.date_range("2020-01-01", periods=3)})
    with pytest.raises(TypeError, match="'b' has dtype datetime64"):
        model.predict(frame)


# ====================================================================== predict data
METHODS = {
    "predict": lambda model, X: model.predict(X),
    "predict_dist": lambda model, X: model.predict_dist(X),
    "sample": lambda model, X: model.sample(X, n_samples=3),
    "score": lambda model, X: model.score(X, np.zeros(len(X))),
}
BAD_INPUTS = {
    "nan": (np.full((3, 2), np.nan), ValueError, "NaN"),
    "inf": (np.full((3, 2), np.inf), ValueError, "infinity"),
    "complex": (np.ones((3, 2)) + 1j, ValueError, "Complex"),
    "strings": (np.full((3, 2), "a"), ValueError, "convert string"),
    "empty": (np.empty((0, 2)), ValueError, "0 sample"),
    "wrong feature count": (np.ones((3, 5)), ValueError, "features"),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_at_prediction_raise_a_clear_error(fitted, method, case):
    model, _, _ = fitted
    X, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        METHODS[method](model, X)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_needs_a_fitted_model(make, method):
    with pytest.raises(NotFittedError):
        METHODS[method](make(), np.ones((3, 2)))


@pytest.mark.parametrize(
    "y, error, message",
    [
        (np.full(60, np.nan), ValueError, "NaN"),
        (np.zeros(59), ValueError, "rows"),
        (np.zeros((60, 2)), ValueError, "columns"),
        (np.zeros((60, 1, 1)), ValueError, "shape"),
        (np.full(60, "a"), ValueError, "real numbers.*convert string"),
        (np.zeros(60) + 1j, TypeError, "real numbers"),
    ],
    ids=["nan", "short", "extra column", "3-D", "strings", "complex"],
)
def test_bad_targets_in_score_raise_a_clear_error(fitted, y, error, message):
    model, X, _ = fitted
    with pytest.raises(error, match=message):
        model.score(X, y)


@pytest.mark.parametrize(
    "weights, message",
    [(np.ones(3), "shape"), (np.full(60, np.nan), "NaN"), (-np.ones(60), "Negative"),
     (np.zeros(60), "non-zero")],
    ids=["short", "nan", "negative", "all zero"],
)
def test_bad_sample_weight_in_score_raises_a_clear_error(fitted, weights, message):
    model, X, y = fitted
    with pytest.raises(ValueError, match=message):
        model.score(X, y, sample_weight=weights)


def test_sample_weight_in_score_weights_the_mean(fitted):
    model, X, y = fitted
    weights = np.r_[np.ones(30), np.zeros(30)]
    assert model.score(X, y, sample_weight=weights) == pytest.approx(model.score(X[:30], y[:30]))


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, "10", True, None])
def test_sample_rejects_non_positive_or_non_integer_counts(fitted, n_samples):
    model, X, _ = fitted
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(X[:3], n_samples=n_samples)


def test_predict_rejects_an_unknown_kind(fitted):
    model, X, _ = fitted
    with pytest.raises(ValueError, match="kind"):
        model.predict(X[:3], kind="quantile")


def test_sample_rejects_a_bad_random_state(fitted):
    model, X, _ = fitted
    with pytest.raises(TypeError, match="random_state"):
        model.sample(X[:3], n_samples=2, random_state="seed")


# ====================================================================== distributions
def point_queries(n, d):
    """Bad query points for a batch of ``n`` rows with d-dimensional targets."""
    good = np.zeros((n,) if d == 1 else (n, d))
    return {
        "nan": (np.full_like(good, np.nan), ValueError, "NaN"),
        "strings": (np.full(good.shape, "a"), TypeError, "real numbers"),
        "complex": (good + 1j, TypeError, "real numbers"),
        "too few rows": (good[:-1], ValueError, "shape"),
        "wrong target dimension": (np.zeros((n, 4, d + 1)), ValueError, "shape"),
        "rank 4": (np.zeros((n, 2, d, 1)), ValueError, "shape"),
        "scalar": (0.0, ValueError, "shape"),
    }


@pytest.mark.parametrize("method", ["logpdf", "pdf", "cdf"])
@pytest.mark.parametrize("case", sorted(point_queries(5, 1)))
def test_bad_query_points_raise_a_clear_error(dist, method, case):
    y, error, message = point_queries(len(dist), dist.target_dim)[case]
    with pytest.raises(error, match=message):
        getattr(dist, method)(y)


@pytest.mark.parametrize(
    "q, error, message",
    [
        (0.0, ValueError, r"\(0, 1\)"),
        (1.0, ValueError, r"\(0, 1\)"),
        (-0.2, ValueError, r"\(0, 1\)"),
        (1.5, ValueError, r"\(0, 1\)"),
        (np.nan, ValueError, "NaN"),
        (np.full((5, 1), 0.5), ValueError, "shape"),
        (np.full(4, 0.5), ValueError, "shape"),
        ("half", TypeError, "real numbers"),
    ],
    ids=["0", "1", "negative", "above 1", "nan", "column", "too few", "string"],
)
def test_bad_probabilities_in_ppf_raise_a_clear_error(dist, q, error, message):
    with pytest.raises(error, match=message):
        dist.ppf(q)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.5, np.nan, "0.9"])
def test_bad_confidence_in_interval_raises_a_clear_error(dist, confidence):
    with pytest.raises(ValueError, match="confidence"):
        dist.interval(confidence)


def test_interval_accepts_a_zero_dimensional_array(dist):
    expected = dist.interval(0.9)
    for got, want in zip(dist.interval(np.array(0.9)), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n_samples", [0, -3, 1.5, None])
def test_distribution_sample_rejects_bad_counts(dist, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        dist.sample(n_samples)


def test_out_of_range_row_index_raises_index_error(dist):
    with pytest.raises(IndexError):
        dist[len(dist)]


def test_queries_near_the_float64_limit_give_no_nan(dist):
    far = np.full((len(dist), 2) if dist.target_dim == 1 else (len(dist), 2, dist.target_dim),
                  1e300)
    far[:, 1] *= -1.0
    assert not np.any(np.isnan(dist.logpdf(far)))  # finite, or -inf for a vanishing density
    np.testing.assert_allclose(dist.cdf(far), [[1.0, 0.0]] * len(dist), atol=1e-12)


# ====================================================================== divergence
def nan_losses(monkeypatch, estimator_class, at_calls):
    """Make the estimator's minibatch loss NaN on the given call numbers."""
    original = estimator_class._batch_loss

    def patched(self, module, generator):
        loss_of_batch = original(self, module, generator)
        calls = itertools.count(1)

        def batch_loss(inputs, targets):
            loss, parts = loss_of_batch(inputs, targets)
            return (loss * float("nan"), parts) if next(calls) in at_calls else (loss, parts)

        return batch_loss

    monkeypatch.setattr(estimator_class, "_batch_loss", patched)


def test_a_nan_loss_is_recovered_from_with_a_smaller_step(make, monkeypatch):
    X, y = linear_data()
    reference = make(max_epochs=3).fit(X, y)
    nan_losses(monkeypatch, type(reference), at_calls={3})
    model = make(max_epochs=3).fit(X, y)
    assert [record["epoch"] for record in model.history_] == [1, 2, 3]
    assert all(np.isfinite(value) for record in model.history_ for value in record.values())
    assert_all_finite(model.predict(X), model.predict_dist(X).std(), model.score(X, y))
    assert not np.allclose(model.predict(X), reference.predict(X))  # a smaller step was taken


def test_persistent_nan_loss_raises_a_named_error_with_advice(make, monkeypatch):
    X, y = linear_data()
    nan_losses(monkeypatch, type(make()), at_calls=range(1, 10**6))
    model = make()
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):  # no half-trained model is left to predict NaN
        model.predict(X)


def test_divergence_in_a_warm_start_keeps_the_last_good_model(make, monkeypatch):
    X, y = linear_data()
    model = make(warm_start=True).fit(X, y)
    before = model.predict(X)
    nan_losses(monkeypatch, type(model), at_calls=range(1, 10**6))
    with pytest.raises(TrainingDivergedError):
        model.fit(X, y)
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-6)


def test_absurd_learning_rate_never_gives_a_model_that_predicts_nan(make):
    X, y = linear_data()
    model = make(learning_rate=1e6, max_epochs=3)
    try:
        model.fit(X, y)
    except TrainingDivergedError as error:
        assert "learning_rate" in str(error)
        with pytest.raises(NotFittedError):
            model.predict(X)
        return
    dist = model.predict_dist(X)
    assert_all_finite(model.predict(X), dist.std(), dist.logpdf(y), model.sample(X, 3))


def test_training_diverged_error_is_a_runtime_error():
    assert issubclass(TrainingDivergedError, RuntimeError)


# ====================================================================== numerics
def test_constant_targets_give_finite_predictions_near_the_constant(make):
    X, _ = linear_data()
    model = make(max_epochs=3).fit(X, np.full(len(X), 3.0))
    dist = model.predict_dist(X)
    assert_all_finite(model.predict(X), dist.std(), dist.logpdf(np.full(len(X), 3.0)))
    assert np.all(np.abs(model.predict(X) - 3.0) < 3.0)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_target_scale_does_not_change_the_fit(make, scale):
    X, y = linear_data()
    unit, scaled = make().fit(X, y), make().fit(X, y * scale)
    np.testing.assert_allclose(scaled.predict(X), scale * unit.predict(X), rtol=1e-4,
                               atol=1e-4 * scale)
    np.testing.assert_allclose(scaled.predict_dist(X).std(), scale * unit.predict_dist(X).std(),
                               rtol=1e-4)
    assert scaled.score(X, y * scale) == pytest.approx(unit.score(X, y) - np.log(scale),
                                                       abs=1e-3)


def test_a_large_target_offset_does_not_change_the_fit(make):
    X, y = linear_data()
    unit, shifted = make().fit(X, y), make().fit(X, y + 1e6)
    np.testing.assert_allclose(shifted.predict(X) - 1e6, unit.predict(X), atol=1e-4)


def test_inputs_near_the_float64_limit_are_standardised_without_overflow(make):
    X, y = linear_data()
    huge, unit = make().fit(X * 1e300, y), make().fit(X, y)
    np.testing.assert_allclose(huge.predict(X * 1e300), unit.predict(X), rtol=1e-4, atol=1e-4)


def test_duplicated_rows_fit_and_predict(make):
    X, y = linear_data(10)
    X, y = np.repeat(X, 6, axis=0), np.repeat(y, 6)
    model = make().fit(X, y)
    assert_all_finite(model.predict(X), model.predict_dist(X).std(), model.score(X, y))


def test_a_single_feature_and_a_constant_feature_are_fine(make):
    X, y = linear_data(n_features=1)
    model = make().fit(X, y)
    assert model.n_features_in_ == 1 and model.predict(X).shape == (len(X),)
    constant = np.column_stack([X, np.ones(len(X))])
    assert_all_finite(make().fit(constant, y).predict(constant))


def test_float32_read_only_and_fortran_inputs_match_float64(make):
    X, y = linear_data()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    reference = make().fit(X32.astype(np.float64), y32.astype(np.float64))
    expected = reference.predict(X32.astype(np.float64))
    frozen = np.asfortranarray(X32)
    frozen.flags.writeable = False
    frozen_y = y32.copy()
    frozen_y.flags.writeable = False
    model = make().fit(frozen, frozen_y)
    np.testing.assert_array_equal(model.predict(frozen), expected)
    assert model.predict(frozen).dtype == np.float64
    assert model.score(frozen, frozen_y) == reference.score(X32.astype(np.float64), y32)


def test_integer_inputs_and_targets_work(make):
    X, y = linear_data()
    X_int, y_int = np.round(3 * X).astype(np.int64), np.round(3 * y).astype(np.int32)
    model = make().fit(X_int, y_int)
    assert model.predict(X_int).dtype == np.float64
    assert_all_finite(model.predict(X_int), model.score(X_int, y_int))


def test_lists_and_dataframes_are_accepted(make):
    X, y = linear_data()
    expected = make().fit(X, y).predict(X)
    np.testing.assert_array_equal(make().fit(X.tolist(), y.tolist()).predict(X.tolist()),
                                  expected)
    frame = pd.DataFrame(X, columns=["a", "b"])
    np.testing.assert_array_equal(make().fit(frame, pd.Series(y)).predict(frame), expected)


# ====================================================================== images
IMAGES = np.random.default_rng(0).random((12, 6, 6))


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted_on_images(request):
    """A tiny model of each kind fitted on one-channel 6 x 6 images, once."""
    return ESTIMATORS[request.param](max_epochs=1).fit(IMAGES, IMAGES.mean(axis=(1, 2)))


BAD_TRAINING_IMAGES = {
    "rank 5": (np.zeros((12, 2, 2, 2, 2)), "rank 5"),
    "nan": (np.where(IMAGES > 0.9, np.nan, IMAGES), "NaN"),
    "strings": (np.full((12, 6, 6), "a"), "real numbers"),
    "empty images": (np.zeros((12, 0, 6)), "empty images"),
    "one image": (IMAGES[:1], "minimum of 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAINING_IMAGES))
def test_bad_training_images_raise_a_clear_error(make, case):
    images, message = BAD_TRAINING_IMAGES[case]
    with pytest.raises(ValueError, match=message):
        make().fit(images, np.zeros(len(images)))


@pytest.mark.parametrize(
    "images, message",
    [
        (IMAGES[:3, :5], r"images of shape \(5, 6\)"),
        (IMAGES[:3, :, :, None], r"images of shape \(6, 6, 1\)"),
        (IMAGES[0], "not an image batch"),
        (IMAGES[:3].reshape(3, 36), "not an image batch"),
        (np.full((3, 6, 6), np.nan), "NaN"),
    ],
    ids=["wrong height", "extra channel axis", "single image", "flattened", "nan"],
)
@pytest.mark.parametrize("method", sorted(METHODS))
def test_images_unlike_the_training_images_raise_a_clear_error(fitted_on_images, method,
                                                               images, message):
    with pytest.raises(ValueError, match=message):
        METHODS[method](fitted_on_images, images)


def test_images_given_to_a_model_fitted_on_a_table_raise_a_clear_error(fitted):
    model, _, _ = fitted
    with pytest.raises(ValueError, match="fitted on a table"):
        model.predict(IMAGES[:3])
