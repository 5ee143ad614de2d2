"""Image inputs for the estimators: layouts, dtypes, shape checks, user extractors, pickling."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import assert_same_fit, linear_data
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from skebm import EnergyRegressor
from skebm._inputs import resolve_channel_axis
from skebm._preprocessing import ImageStandardizer, Standardizer, TableStandardizer
from skebm.exceptions import DeviceWarning
from skebm.nn import ConvExtractor, EncodedExtractor, MLPExtractor, ResNet18Extractor

TINY = dict(max_epochs=1, n_noise_samples=8, hidden_size=8, n_inference_samples=32,
            random_state=0, feature_extractor_kwargs={"channels": (4, 8)})


def images(n=24, shape=(8, 8, 3), seed=0):
    """uint8 images whose target is the mean brightness of the first channel."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    first = X[..., 0] if len(shape) == 3 else X
    return X, first.reshape(n, -1).mean(axis=1) / 255.0


def fit_predict(X, y, **params):
    model = EnergyRegressor(**{**TINY, **params}).fit(X, y)
    return model, model.predict(X)


@pytest.fixture(scope="module")
def fitted_rgb():
    X, y = images()
    return EnergyRegressor(**TINY).fit(X, y), X, y


@pytest.fixture(scope="module")
def fitted_rgb_on_cpu():
    """A model fitted on the CPU, as the tests that simulate a machine without CUDA need
    (on a machine with CUDA, ``fitted_rgb``'s networks live on the GPU)."""
    X, y = images()
    return EnergyRegressor(**TINY, device="cpu").fit(X, y), X, y


# ---------------------------------------------------------------- layout rule
@pytest.mark.parametrize(
    "shape, axis",
    [
        ((5, 32, 32, 3), 3),  # RGB, channels last
        ((5, 3, 32, 32), 1),  # RGB, channels first
        ((5, 8, 8, 1), 3),
        ((5, 1, 8, 8), 1),
        ((5, 64, 64, 8), 3),  # neither axis is 1, 3 or 4: the smaller one
        ((5, 8, 64, 64), 1),
        ((5, 4, 8, 3), 3),  # both are: the smaller one
        ((5, 3, 8, 3), 3),  # a tie: the last
        ((5, 16, 16, 16), 3),
    ],
)
def test_channel_axis_is_detected_by_the_documented_rule(shape, axis):
    assert resolve_channel_axis(shape, None) == axis


@pytest.mark.parametrize("given, axis", [(1, 1), (3, 3), (-1, 3)])
def test_channel_axis_parameter_overrides_detection(given, axis):
    assert resolve_channel_axis((5, 3, 8, 3), given) == axis


def test_three_dimensional_images_have_no_channel_axis_to_choose():
    assert resolve_channel_axis((5, 8, 8), None) is None
    with pytest.raises(ValueError, match="channel_axis=1 needs images of rank 4"):
        resolve_channel_axis((5, 8, 8), 1)


# ---------------------------------------------------------------- layouts and dtypes
def test_channel_layouts_give_identical_models():
    X, y = images()
    _, last = fit_predict(X, y)
    _, first = fit_predict(np.moveaxis(X, -1, 1), y)
    assert_same_fit(first, last)


def test_single_channel_layouts_give_identical_models():
    X, y = images(shape=(8, 8))
    _, plain = fit_predict(X, y)
    for variant in (X[..., None], X[:, None]):
        assert_same_fit(fit_predict(variant, y)[1], plain)


@pytest.mark.parametrize("convert", [
    lambda X: X.astype(np.float32) / 255,
    lambda X: X.astype(np.float64),
    lambda X: X.astype(np.int16) - 128,
])
def test_dtypes_agree_once_standardised(convert):
    X, y = images()
    _, reference = fit_predict(X, y)
    _, converted = fit_predict(convert(X), y)
    np.testing.assert_allclose(converted, reference, atol=1e-4)


def test_boolean_images_are_accepted():
    X, y = images(shape=(8, 8))
    model, prediction = fit_predict(X > 127, y)
    assert prediction.shape == (len(X),) and np.all(np.isfinite(prediction))


def test_uint8_images_are_scaled_to_unit_range_then_standardised_per_channel(fitted_rgb):
    model, X, _ = fitted_rgb
    scaler = model._input_scaler
    assert scaler.value_scale == 255.0
    np.testing.assert_allclose(scaler.mean, X.mean(axis=(0, 1, 2)) / 255, rtol=1e-10)
    np.testing.assert_allclose(scaler.scale, X.std(axis=(0, 1, 2)) / 255, rtol=1e-10)


def test_image_standardizer_gives_zero_mean_unit_variance_channels(monkeypatch):
    monkeypatch.setattr("skebm._preprocessing._VALUES_PER_BLOCK", 3 * 2 * 6 * 6)  # 4 blocks
    rng = np.random.default_rng(0)
    X = np.stack([rng.normal(5.0, 2.0, (10, 6, 6)), np.full((10, 6, 6), 7.0)], axis=1)
    standard = ImageStandardizer(X).transform(X)
    assert standard.dtype == torch.float32 and standard.shape == X.shape
    np.testing.assert_allclose(standard[:, 0].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(standard[:, 0].std(unbiased=False), 1.0, atol=1e-5)
    np.testing.assert_array_equal(standard[:, 1], 0.0)  # a constant channel is only centred


def test_fitted_layout_is_recorded(fitted_rgb):
    model, _, _ = fitted_rgb
    assert model.input_shape_ == (8, 8, 3)
    assert model.channel_axis_ == 3
    assert model.n_features_in_ == 8 * 8 * 3
    assert isinstance(model.module_.extractor, ConvExtractor)
    assert model.module_.extractor.net[0].in_channels == 3


def test_channel_axis_parameter_is_used_by_fit():
    X, y = images(shape=(4, 8, 3))
    assert EnergyRegressor(**TINY).fit(X, y).module_.extractor.net[0].in_channels == 3
    model = EnergyRegressor(**TINY, channel_axis=1).fit(X, y)
    assert model.channel_axis_ == 1 and model.module_.extractor.net[0].in_channels == 4


def test_channel_axis_parameter_is_validated():
    X, y = images()
    with pytest.raises(ValueError, match="channel_axis"):
        EnergyRegressor(**TINY, channel_axis=2).fit(X, y)
    with pytest.raises(ValueError, match="rank 4"):
        EnergyRegressor(**TINY, channel_axis=-1).fit(X[..., 0], y)


def test_refitting_on_images_forgets_table_feature_names():
    X, y = images()
    model = EnergyRegressor(**{**TINY, "feature_extractor_kwargs": None})
    model.fit(pd.DataFrame({"a": y, "b": -y}), y)
    model.fit(X, y)
    assert not hasattr(model, "feature_names_in_") and model.input_shape_ == (8, 8, 3)


# ---------------------------------------------------------------- shape and value errors
def test_predicting_on_another_image_shape_is_refused(fitted_rgb):
    model, X, _ = fitted_rgb
    with pytest.raises(ValueError, match=r"\(8, 8, 3\), channels last"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.moveaxis(X, -1, 1))


def test_a_single_image_without_batch_axis_gets_a_hint(fitted_rgb):
    model, X, _ = fitted_rgb
    with pytest.raises(ValueError, match=r"X\[np.newaxis\]"):
        model.predict(X[0])


def test_tables_and_images_are_not_interchangeable(fitted_rgb):
    model, X, y = fitted_rgb
    with pytest.raises(ValueError, match="fitted on images"):
        model.predict(X.reshape(len(X), -1))
    table_model = EnergyRegressor(**{**TINY, "feature_extractor_kwargs": None}).fit(
        X.reshape(len(X), -1)[:, :3].astype(float), y)
    with pytest.raises(ValueError, match="fitted on a table with 3 features"):
        table_model.predict(X)


def test_warm_start_refuses_images_of_another_shape():
    X, y = images()
    model = EnergyRegressor(**TINY, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        model.fit(X[:, :4], y)


def test_mixing_uint8_and_float_images_warns(fitted_rgb):
    model, X, _ = fitted_rgb
    with pytest.warns(UserWarning, match="same scale"):
        model.predict(X.astype(np.float32) / 255)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X)


@pytest.mark.parametrize(
    "X, n_targets, message",
    [
        (np.full((4, 5, 5), np.nan), 4, "NaN"),
        (np.full((4, 5, 5), "a"), 4, "real numbers"),
        (np.zeros((1, 5, 5)), 1, "minimum of 2"),
        (np.zeros((4, 0, 5)), 4, "empty"),
        (np.zeros((4, 2, 5, 5, 1)), 4, "rank 5"),
        (np.zeros((3, 5, 5)), 4, "inconsistent numbers of samples"),
    ],
)
def test_bad_images_are_reported(X, n_targets, message):
    with pytest.raises(ValueError, match=message):
        EnergyRegressor(**TINY).fit(X, np.arange(float(n_targets)))


# ---------------------------------------------------------------- built-in extractors
def test_auto_picks_the_cnn_for_images_and_the_mlp_for_tables():
    X, y = images(shape=(8, 8))
    assert isinstance(EnergyRegressor(**TINY).fit(X, y).module_.extractor, ConvExtractor)
    table = EnergyRegressor(**{**TINY, "feature_extractor_kwargs": None}).fit(X[:, 0], y)
    assert isinstance(table.module_.extractor, EncodedExtractor)  # columns beside their bins
    assert isinstance(table.module_.extractor.extractor, MLPExtractor)


def test_mlp_flattens_images_and_resnet18_fits_them():
    X, y = images(n=12)
    mlp = EnergyRegressor(**{**TINY, "feature_extractor": "mlp",
                             "feature_extractor_kwargs": None}).fit(X, y)
    assert mlp.module_.extractor.net[0].in_features == 8 * 8 * 3
    resnet = EnergyRegressor(**{**TINY, "feature_extractor": "resnet18",
                                "feature_extractor_kwargs": None}).fit(X, y)
    assert isinstance(resnet.module_.extractor, ResNet18Extractor)
    assert resnet.predict(X).shape == (12,)


def test_resnet18_weights_are_taken_from_a_local_file(tmp_path):
    X, y = images(n=6, shape=(8, 8))
    source = ResNet18Extractor(in_channels=1)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    model = EnergyRegressor(**{**TINY, "feature_extractor": "resnet18", "max_epochs": 1,
                               "learning_rate": 1e-12,
                               "feature_extractor_kwargs": {"weights": tmp_path / "weights.pt"}})
    model.fit(X, y)
    torch.testing.assert_close(model.module_.extractor.conv1.weight.cpu(), source.conv1.weight)


# ---------------------------------------------------------------- user extractors
class TinyConv(nn.Module):
    """A user extractor without ``out_features``: its size comes from a dry run."""

    def __init__(self, input_shape, width=5):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], width, 3)

    def forward(self, inputs):
        return torch.relu(self.conv(inputs)).amax(dim=(2, 3))


def test_user_module_class_gets_input_shape_and_kwargs():
    X, y = images()
    model = EnergyRegressor(**{**TINY, "feature_extractor": TinyConv,
                               "feature_extractor_kwargs": {"width": 6}}).fit(X, y)
    assert model.module_.extractor.conv.in_channels == 3
    assert model.module_.extractor.out_features == 6
    assert model.predict(X).shape == (len(X),)


def test_user_module_instance_is_copied_and_left_untouched():
    X, y = images()
    instance = TinyConv((3, 8, 8))
    before = instance.conv.weight.detach().clone()
    model = EnergyRegressor(**{**TINY, "feature_extractor": instance,
                               "feature_extractor_kwargs": None}).fit(X, y)
    assert model.module_.extractor is not instance
    torch.testing.assert_close(instance.conv.weight, before)


def test_user_module_works_with_clone_grid_search_and_pickle():
    X, y = images(n=16)
    base = EnergyRegressor(**{**TINY, "feature_extractor": TinyConv,
                              "feature_extractor_kwargs": {"width": 4}})
    assert clone(base).get_params()["feature_extractor"] is TinyConv
    search = GridSearchCV(base, {"feature_extractor_kwargs": [{"width": 3}, {"width": 5}]},
                          cv=2).fit(X, y)
    best = search.best_estimator_
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(restored.predict(X), best.predict(X))


# ---------------------------------------------------------------- GPU -> CPU pickling
def _tensors(value, seen=None):
    """Every tensor reachable from ``value`` through containers, modules and attributes."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, nn.Module):
        yield from value.state_dict().values()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, seen)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        yield from _tensors(vars(value), seen)


def test_pickle_state_of_an_image_model_holds_only_cpu_tensors(fitted_rgb):
    model, _, _ = fitted_rgb
    found = list(_tensors(model.__getstate__()))
    assert found and all(tensor.device.type == "cpu" for tensor in found)


def test_image_model_fitted_on_cuda_loads_and_predicts_on_cpu(fitted_rgb_on_cpu, monkeypatch):
    model, X, _ = fitted_rgb_on_cpu
    expected = model.predict(X)
    gpu_model = pickle.loads(pickle.dumps(model))
    gpu_model.device_ = torch.device("cuda")
    payload = pickle.dumps(gpu_model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="CPU"):
        restored = pickle.loads(payload)
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.predict(X), expected)


def test_image_model_whose_device_says_cuda_predicts_on_cpu_with_a_warning(
        fitted_rgb_on_cpu, monkeypatch):
    model, X, _ = fitted_rgb_on_cpu
    expected = model.predict(X)
    gpu_model = pickle.loads(pickle.dumps(model))
    gpu_model.device_ = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="CPU"):
        np.testing.assert_array_equal(gpu_model.predict(X), expected)


def test_a_model_pickled_with_the_plain_column_standardizer_still_predicts():
    # Models pickled before the outlier-aware TableStandardizer hold a Standardizer;
    # on ordinary columns both scale alike.
    X, y = linear_data()
    model = EnergyRegressor(**{**TINY, "feature_extractor_kwargs": None}).fit(X, y)
    assert isinstance(model._input_scaler, TableStandardizer)
    expected = model.predict(X)
    model._input_scaler = Standardizer(X)
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored._input_scaler) is Standardizer
    np.testing.assert_allclose(restored.predict(X), expected, rtol=1e-6, atol=1e-6)
