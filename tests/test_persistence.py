"""skebm.save and skebm.load: exact round trips, user extractors, devices and the reference files.

Files that are broken, crafted or of other versions are in test_persistence_files.py.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import linear_data, tiny_estimators
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from torch import nn

import skebm
from skebm import DistilledMDNRegressor, EnergyRegressor, get_untrusted_types, load, save
from skebm._migrations import FORMAT_VERSION
from skebm.calibration import RecalibratedRegressor
from skebm.ensemble import EnsembleRegressor
from skebm.exceptions import DeviceWarning, ModelFormatError, UntrustedTypeError

ESTIMATORS = tiny_estimators()
DATA = Path(__file__).resolve().parent / "data"


def saved(model) -> bytes:
    file = io.BytesIO()
    save(model, file)
    return file.getvalue()


def round_trip(model, **options):
    return load(io.BytesIO(saved(model)), **options)


def outputs(model, X, y):
    """What a user gets out of a fitted model, as a list of arrays."""
    dist = model.predict_dist(X)
    return [model.predict(X), dist.std(), dist.logpdf(y), dist.cdf(y), dist.ppf(0.3),
            model.sample(X, 4), np.array(model.score(X, y))]


def assert_same_outputs(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def assert_same_networks(first, second):
    a, b = first.state_dict(), second.state_dict()
    assert list(a) == list(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


# ====================================================================== round trips
FITTED = [(kind, n_targets, bins) for kind in sorted(ESTIMATORS) for n_targets in (1, 2)
          for bins in (0, 8)]


@pytest.fixture(scope="module", params=FITTED, ids=lambda p: f"{p[0]}-d{p[1]}-bins{p[2]}")
def fitted(request):
    """(model, X, y) for each estimator, 1-D and 2-D targets, input encoding off and on."""
    kind, n_targets, input_bins = request.param
    X, y = linear_data(n_targets=n_targets)
    return ESTIMATORS[kind](device="cpu", input_bins=input_bins).fit(X, y), X, y


def test_predictions_after_load_equal_those_before_save(fitted):
    model, X, y = fitted
    restored = round_trip(model)
    assert type(restored) is type(model)
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))
    assert_same_networks(restored.module_, model.module_)
    assert not restored.module_.training
    assert restored.get_params() == model.get_params()
    assert restored.input_bins_ == model.input_bins_


def test_saving_twice_writes_the_same_bytes(fitted):
    model, _, _ = fitted
    assert saved(model) == saved(round_trip(model))


@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_images_round_trip_exactly(kind):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8)  # channels last
    y = images[:, :4, :4, 0].mean(axis=(1, 2)) / 255.0 + 0.1 * rng.normal(size=40)
    model = ESTIMATORS[kind](device="cpu", feature_extractor_kwargs={"channels": (4, 8)})
    model.fit(images, y)
    restored = round_trip(model)
    assert_same_outputs(outputs(restored, images[:6], y[:6]), outputs(model, images[:6], y[:6]))
    assert_same_networks(restored.module_, model.module_)  # batch-norm statistics included


@pytest.mark.parametrize("keep_teacher", [True, False])
def test_the_teacher_is_restored_or_stays_dropped(keep_teacher):
    X, y = linear_data()
    model = ESTIMATORS["distilled"](device="cpu", keep_teacher=keep_teacher).fit(X, y)
    restored = round_trip(model)
    if keep_teacher:
        assert_same_networks(restored.teacher_, model.teacher_)
    else:
        assert restored.teacher_ is None


def test_an_unfitted_estimator_round_trips_its_parameters():
    model = EnergyRegressor(n_components=3, sigmas=(0.2, 0.5),
                            random_state=np.random.RandomState(4))
    restored = round_trip(model)
    assert not hasattr(restored, "module_")
    assert restored.get_params()["sigmas"] == (0.2, 0.5)
    assert restored.random_state.randint(10**6) == model.random_state.randint(10**6)


def test_a_loaded_model_continues_with_warm_start():
    X, y = linear_data()
    restored = round_trip(ESTIMATORS["energy"](device="cpu").fit(X, y))
    restored.set_params(warm_start=True).fit(X, y)
    assert [record["epoch"] for record in restored.history_] == [1, 2, 3, 4]


@pytest.mark.parametrize("ensemble, n_fits", [(False, 2), (True, 1)])
def test_recalibrated_regressors_round_trip_with_their_fits_and_maps(ensemble, n_fits):
    X, y = linear_data(n=80)
    model = RecalibratedRegressor(ESTIMATORS["distilled"](device="cpu"), cv=2, ensemble=ensemble,
                                  n_fits=n_fits).fit(X, y)
    restored = round_trip(model)
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))
    assert len(restored.fits_) == len(model.fits_)
    if ensemble:
        assert restored.estimators_[1] is restored.fits_[1][0]  # shared, as in the model
    else:
        assert restored.estimator_ is restored.fits_[0][0]
        np.testing.assert_array_equal(restored.calibration_.knots_, model.calibration_.knots_)


def test_ensembles_round_trip_with_their_members():
    X, y = linear_data()
    model = EnsembleRegressor(ESTIMATORS["distilled"](device="cpu"), n_estimators=2).fit(X, y)
    restored = round_trip(model)
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))


def test_a_pipeline_with_a_scikit_learn_transformer_round_trips():
    pytest.importorskip("skops")
    X, y = linear_data(n=80)
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("model", ESTIMATORS["energy"](device="cpu"))])
    model = RecalibratedRegressor(pipeline, cv=2, n_fits=1).fit(X, y)
    restored = round_trip(model)
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))
    assert isinstance(restored.estimator_.named_steps["scale"], StandardScaler)
    assert get_untrusted_types(io.BytesIO(saved(model))) == []


def shifted(X):
    """A user's function in a scikit-learn transformer."""
    return X + 1.0


def test_user_code_in_a_scikit_learn_step_loads_only_when_trusted():
    pytest.importorskip("skops")
    X, y = linear_data()
    model = Pipeline([("shift", FunctionTransformer(shifted)),
                      ("model", ESTIMATORS["distilled"](device="cpu"))]).fit(X, y)
    data = saved(model)
    name = f"{shifted.__module__}.shifted"
    assert get_untrusted_types(io.BytesIO(data)) == [name]
    with pytest.raises(UntrustedTypeError, match=rf"step 'shift'.*{name}.*trusted="):
        load(io.BytesIO(data))
    np.testing.assert_array_equal(load(io.BytesIO(data), trusted=[name]).predict(X),
                                  model.predict(X))


def test_without_skops_a_scikit_learn_step_is_refused_by_name(monkeypatch):
    X, y = linear_data()
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("model", ESTIMATORS["energy"](device="cpu"))]).fit(X, y)
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(TypeError, match=r"step 'scale'.*StandardScaler.*skops is not installed"):
        saved(pipeline)


def test_a_path_is_replaced_whole_or_left_as_it_was(tmp_path, monkeypatch):
    X, y = linear_data()
    path = tmp_path / "model.skebm"
    save(ESTIMATORS["energy"](device="cpu").fit(X, y), path)
    before = path.read_bytes()

    def fail_midway(stream, members):
        stream.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(skebm._persistence._archive, "_write_zip", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        save(EnergyRegressor(), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.skebm"]


# ====================================================================== user code
class TinyExtractor(nn.Module):
    """A user's feature extractor."""

    def __init__(self, input_shape, width=6):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), width),
                                 nn.ReLU())
        self.out_features = width

    def forward(self, inputs):
        return self.net(inputs)


def tiny_extractor(input_shape):
    """A user's extractor factory."""
    return TinyExtractor(input_shape, width=5)


@pytest.mark.parametrize("extractor", [TinyExtractor, tiny_extractor], ids=["class", "factory"])
def test_a_user_extractor_loads_only_when_trusted(extractor):
    X, y = linear_data()
    model = ESTIMATORS["energy"](device="cpu", feature_extractor=extractor).fit(X, y)
    data = saved(model)
    name = f"{extractor.__module__}.{extractor.__qualname__}"
    assert get_untrusted_types(io.BytesIO(data)) == [name]
    with pytest.raises(UntrustedTypeError, match=rf"{name}.*trusted=\['{name}'\]"):
        load(io.BytesIO(data))
    for trusted in ([name], [extractor]):
        restored = load(io.BytesIO(data), trusted=trusted)
        assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))


def test_a_trusted_class_is_used_as_given_without_importing_it(monkeypatch):
    X, y = linear_data()
    monkeypatch.setattr(TinyExtractor, "__module__", "a_notebook_cell")  # not importable
    model = ESTIMATORS["distilled"](device="cpu", feature_extractor=TinyExtractor).fit(X, y)
    data = saved(model)
    restored = load(io.BytesIO(data), trusted=[TinyExtractor])
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))
    with pytest.raises(ModelFormatError, match="a_notebook_cell.TinyExtractor cannot be imported"):
        load(io.BytesIO(data), trusted=["a_notebook_cell.TinyExtractor"])


def test_extractors_that_cannot_be_imported_by_name_are_refused_at_saving():
    X, y = linear_data()

    class LocalExtractor(TinyExtractor):
        pass

    for extractor in (LocalExtractor, lambda input_shape: TinyExtractor(input_shape)):
        model = ESTIMATORS["energy"](device="cpu", feature_extractor=extractor).fit(X, y)
        with pytest.raises(TypeError, match="feature_extractor.*top level of a module"):
            saved(model)
    model = ESTIMATORS["energy"](device="cpu", feature_extractor=TinyExtractor((2,)))
    with pytest.raises(TypeError, match="module instance .TinyExtractor.*pass its class"):
        saved(model.fit(X, y))


def test_an_attribute_of_an_unknown_type_is_refused_by_name():
    X, y = linear_data()
    model = ESTIMATORS["energy"](device="cpu").fit(X, y)
    model.calibrated_with_ = object()
    with pytest.raises(TypeError, match=r"model\.calibrated_with_ holds a builtins\.object"):
        saved(model)


def test_trusted_must_name_code():
    with pytest.raises(TypeError, match="trusted must hold import paths"):
        load(io.BytesIO(saved(EnergyRegressor())), trusted=[3])


# ====================================================================== devices
def test_a_model_fitted_on_gpu_loads_on_a_cpu_only_machine(monkeypatch):
    X, y = linear_data()
    model = ESTIMATORS["distilled"](device="cpu").fit(X, y)
    expected = outputs(model, X, y)
    model.device_ = torch.device("cuda:0")  # what a GPU fit records; the file holds CPU tensors
    data = saved(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="loaded on the CPU"):
        restored = load(io.BytesIO(data))
    assert restored.device_ == torch.device("cpu")
    assert_same_outputs(outputs(restored, X, y), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_a_model_fitted_on_cuda_loads_in_a_process_without_cuda(kind, tmp_path):
    X, y = linear_data()
    model = ESTIMATORS[kind](device="cuda").fit(X, y)
    save(model, tmp_path / "model.skebm")
    on_gpu = load(tmp_path / "model.skebm")
    assert next(on_gpu.module_.parameters()).device.type == "cuda"
    np.testing.assert_allclose(on_gpu.predict(X), model.predict(X), rtol=1e-6, atol=1e-6)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict(X))
    script = (
        "import sys, warnings, numpy as np, torch, skebm\n"
        "assert not torch.cuda.is_available()\n"
        "warnings.simplefilter('ignore')\n"
        "model = skebm.load(sys.argv[1] + '/model.skebm')\n"
        "assert model.device_ == torch.device('cpu')\n"
        "np.testing.assert_allclose(model.predict(np.load(sys.argv[1] + '/X.npy')),\n"
        "                           np.load(sys.argv[1] + '/expected.npy'), rtol=1e-4, atol=1e-4)\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# ====================================================================== reference files
REFERENCE_INPUTS = np.linspace(-1.5, 1.5, 8).reshape(4, 2)  # as tests/data/make_model_files.py
REFERENCE_PREDICTIONS = {
    "energy_format3.skebm":
        [-0.20055502898532684, 0.03271043038657542, 0.26396133912172476, 0.46742430478838676],
    "recalibrated_format3.skebm":
        [-0.28256404598658685, -0.3505194650642882, -0.19606694505011746, 0.15440281717003262],
    "energy_format4.skebm":
        [-0.20055502898532684, 0.03271043038657542, 0.26396133912172476, 0.46742430478838676],
    "recalibrated_format4.skebm":
        [-0.282564045969075, -0.3505194650449545, -0.19606694503389377, 0.15440281717153687],
}


@pytest.mark.parametrize("name", sorted(REFERENCE_PREDICTIONS))
def test_the_reference_files_load_and_predict_what_they_did_when_saved(name):
    model = load(DATA / name)
    expected_type = EnergyRegressor if name.startswith("energy") else RecalibratedRegressor
    assert type(model) is expected_type
    if expected_type is RecalibratedRegressor:
        assert type(model.estimator_) is DistilledMDNRegressor and len(model.fits_[0]) == 2
    np.testing.assert_allclose(model.predict(REFERENCE_INPUTS), REFERENCE_PREDICTIONS[name],
                               rtol=1e-5, atol=1e-6)


def test_reference_files_of_the_current_format_are_committed():
    # After a format change, run tests/data/make_model_files.py and add its files here.
    assert {f"energy_format{FORMAT_VERSION}.skebm",
            f"recalibrated_format{FORMAT_VERSION}.skebm"} <= set(REFERENCE_PREDICTIONS)
    assert all((DATA / name).stat().st_size < 16_000 for name in REFERENCE_PREDICTIONS)
