"""Pickling and joblib, GPU-fitted models on CPU-only machines, reproducibility, threads."""

import io
import os
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import torch
from helpers import tiny_estimators
from sklearn.model_selection import cross_validate

import skebm
from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm._migrations import FORMAT_VERSION, upgrade_state
from skebm.exceptions import DeviceWarning

ESTIMATORS = tiny_estimators()


def linear_data(n=60, n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = X[:, :n_targets] + 0.3 * rng.normal(size=(n, n_targets))
    return X, (Y[:, 0] if n_targets == 1 else Y)


@pytest.fixture(params=sorted(ESTIMATORS))
def make(request):
    return ESTIMATORS[request.param]


@pytest.fixture(scope="module", params=[(k, d) for k in sorted(ESTIMATORS) for d in (1, 2)],
                ids=lambda p: f"{p[0]}-d{p[1]}")
def fitted(request):
    """(model, X, y) for each estimator on 1-D and 2-D targets, fitted once (CPU)."""
    kind, n_targets = request.param
    X, y = linear_data(n_targets=n_targets)
    return ESTIMATORS[kind](device="cpu").fit(X, y), X, y


def outputs(model, X, y):
    """Everything a user can get out of a fitted model, as a list of arrays."""
    dist = model.predict_dist(X)
    return [model.predict(X), model.predict(X, kind="mode"), dist.std(), dist.logpdf(y),
            dist.cdf(y), dist.ppf(0.3), model.sample(X, 4), np.array(model.score(X, y))]


def assert_same_outputs(first, second, rtol=0.0, atol=0.0):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def network_tensors(model):
    return list(model.module_.state_dict().values())


# ====================================================================== pickling
def test_pickle_round_trip_keeps_every_output(fitted):
    model, X, y = fitted
    restored = pickle.loads(pickle.dumps(model))
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))
    assert restored.device_ == torch.device("cpu")
    assert all(t.device.type == "cpu" for t in network_tensors(restored))


def test_joblib_round_trip_keeps_every_output(fitted, tmp_path):
    model, X, y = fitted
    joblib.dump(model, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    assert_same_outputs(outputs(restored, X, y), outputs(model, X, y))


def test_pickles_carry_the_format_version(fitted):
    model, _, _ = fitted
    assert model.__getstate__()["_skebm_pickle_format"] == FORMAT_VERSION
    assert "_skebm_pickle_format" not in vars(pickle.loads(pickle.dumps(model)))


def test_a_pickle_from_a_newer_format_is_refused_with_advice(fitted):
    model, _, _ = fitted
    state = model.__getstate__()
    state["_skebm_pickle_format"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*reads versions "
                       f"1 to {FORMAT_VERSION}. Upgrade skebm"):
        type(model).__new__(type(model)).__setstate__(state)


def test_a_pickle_without_a_format_version_still_loads(fitted):
    model, X, _ = fitted
    state = model.__getstate__()
    del state["_skebm_pickle_format"]
    restored = type(model).__new__(type(model))
    restored.__setstate__(state)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_a_pickle_of_skebm_0_1_0_gets_what_later_versions_added(make):
    X, y = linear_data()
    model = make(input_bins=0)
    if isinstance(model, EnergyRegressor):
        model.set_params(proposal_weight=0.0)
    model.fit(X, y)
    state = model.__getstate__()
    for name in ("_skebm_pickle_format", "input_bins", "input_bins_", "_input_bin_edges",
                 "_architecture", "proposal_weight", "proposal_weight_"):
        state.pop(name, None)  # what 0.1.0 did not have
    old = type(model).__new__(type(model))
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.get_params() == model.get_params()
    assert old.input_bins_ == 0 and old._input_bin_edges is None and old._architecture is None
    np.testing.assert_array_equal(old.predict(X), model.predict(X))
    old.set_params(warm_start=True).fit(X, y)  # no recorded architecture: any may continue


def test_migrations_add_only_what_came_after_the_saved_version():
    names = EnergyRegressor._get_param_names()
    current = {}
    upgrade_state(current, FORMAT_VERSION, names, fitted=True)
    assert current == {}
    older = {}
    upgrade_state(older, 2, names, fitted=True)
    assert older == {"input_bins": 0, "input_bins_": 0, "_input_bin_edges": None,
                     "proposal_weight": 0.0, "proposal_weight_": 0.0,
                     "n_threads": "auto", "n_threads_": None, "world_size_": 1}
    unfitted = {}
    upgrade_state(unfitted, 2, DistilledMDNRegressor._get_param_names(), fitted=False)
    assert unfitted == {"input_bins": 0, "n_threads": "auto"}


def test_pickling_leaves_the_live_model_untouched(fitted):
    model, X, _ = fitted
    network, before = model.module_, model.predict(X)
    pickle.dumps(model)
    assert model.module_ is network
    np.testing.assert_array_equal(model.predict(X), before)


def test_unfitted_estimators_pickle_with_their_parameters(make):
    model = make(n_components=3)
    assert pickle.loads(pickle.dumps(model)).get_params() == model.get_params()


# ====================================================================== GPU -> CPU
@pytest.fixture
def pretend_on_gpu(monkeypatch):
    """Make the given tensors pickle as CUDA tensors, as on a GPU machine.

    torch records each storage's location (``location_tag``) when pickling and
    restores it there; a CPU-only process then fails with "Attempting to
    deserialize object on a CUDA device". Tagging the live network's storages
    as ``cuda:0`` reproduces what pickling a model fitted on a GPU writes, for
    every storage that is pickled as it is rather than copied to the CPU first.
    """
    original = torch.serialization.location_tag

    def pretend(tensors):
        on_gpu = {t.untyped_storage().data_ptr() for t in tensors}

        def location_tag(storage):
            return "cuda:0" if storage.data_ptr() in on_gpu else original(storage)

        monkeypatch.setattr(torch.serialization, "location_tag", location_tag)

    return pretend


@pytest.fixture
def cpu_only(monkeypatch):
    """This process behaves as a machine without CUDA."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def looks_fitted_on_gpu(model):
    """A CPU-fitted model dressed as one fitted with ``device="cuda"``."""
    model = pickle.loads(pickle.dumps(model))
    model.set_params(device="cuda")
    model.device_ = torch.device("cuda")
    return model


def test_the_gpu_simulation_breaks_plain_pickles_of_the_network(fitted, pretend_on_gpu,
                                                                monkeypatch):
    model, _, _ = fitted
    pretend_on_gpu(network_tensors(model))
    payload = pickle.dumps(model.module_)  # no skebm __getstate__: tensors pickled as they are
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(payload)


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads),
                                        (lambda m: _joblib_bytes(m), lambda b: _joblib_load(b))],
                         ids=["pickle", "joblib"])
def test_a_model_fitted_on_gpu_loads_and_predicts_on_a_cpu_only_machine(
        fitted, pretend_on_gpu, monkeypatch, dump, load):
    model, X, y = fitted
    expected = outputs(model, X, y)
    gpu_model = looks_fitted_on_gpu(model)
    pretend_on_gpu(network_tensors(gpu_model))
    payload = dump(gpu_model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="loaded on the CPU"):
        restored = load(payload)
    assert restored.device_ == torch.device("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceWarning)  # said once, at loading
        assert_same_outputs(outputs(restored, X, y), expected)
    assert all(t.device.type == "cpu" for t in network_tensors(restored))


def _joblib_bytes(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _joblib_load(payload):
    return joblib.load(io.BytesIO(payload))


def test_a_cuda_model_in_memory_falls_back_to_the_cpu_with_a_warning(fitted, cpu_only):
    model, X, _ = fitted
    expected = model.predict(X)
    gpu_model = looks_fitted_on_gpu(model)
    with pytest.warns(DeviceWarning, match="CPU"):
        np.testing.assert_array_equal(gpu_model.predict(X), expected)
    assert gpu_model.device_ == torch.device("cuda")  # predicting changes nothing


def test_refitting_a_gpu_model_without_cuda_says_so(fitted, cpu_only):
    model, X, y = fitted
    gpu_model = looks_fitted_on_gpu(model)
    with pytest.raises(ValueError, match="CUDA is not available"):
        gpu_model.fit(X, y)
    assert gpu_model.set_params(device="cpu").fit(X, y).device_ == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_fitted_on_cuda_predicts_in_a_process_without_cuda(make, tmp_path):
    X, y = linear_data()
    model = make(device="cuda").fit(X, y)
    assert next(model.module_.parameters()).device.type == "cuda"
    joblib.dump(model, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict(X))
    script = (
        "import sys, joblib, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        "model = joblib.load(sys.argv[1] + '/model.joblib')\n"
        "X = np.load(sys.argv[1] + '/X.npy')\n"
        "np.testing.assert_allclose(model.predict(X), np.load(sys.argv[1] + '/expected.npy'),\n"
        "                           rtol=1e-4, atol=1e-4)\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# ====================================================================== reproducibility
def test_the_same_random_state_gives_identical_fits_and_outputs(make):
    X, y = linear_data()
    first, second = make().fit(X, y), make().fit(X, y)
    for a, b in zip(network_tensors(first), network_tensors(second), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert_same_outputs(outputs(first, X, y), outputs(second, X, y))


def test_prediction_time_sampling_is_reproducible(fitted):
    model, X, _ = fitted
    np.testing.assert_array_equal(model.sample(X, 5), model.sample(X, 5))
    np.testing.assert_array_equal(model.sample(X, 5, random_state=7),
                                  model.sample(X, 5, random_state=7))
    assert not np.array_equal(model.sample(X, 5, random_state=7),
                              model.sample(X, 5, random_state=8))
    dist = model.predict_dist(X)
    np.testing.assert_array_equal(dist.sample(3, random_state=1), dist.sample(3, random_state=1))


def test_different_random_states_give_different_fits(make):
    X, y = linear_data()
    assert not np.allclose(make(random_state=0).fit(X, y).predict(X),
                           make(random_state=1).fit(X, y).predict(X))


def test_fit_neither_reads_nor_disturbs_the_global_random_state(make):
    X, y = linear_data()
    torch.manual_seed(123)
    np.random.seed(123)  # noqa: NPY002 (the legacy global state is what is checked)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    first = make().fit(X, y)
    expected = outputs(first, X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])  # noqa: NPY002
    torch.manual_seed(999)
    np.random.seed(999)  # noqa: NPY002
    assert_same_outputs(outputs(make().fit(X, y), X, y), expected)


def test_a_random_state_instance_is_accepted(make):
    X, y = linear_data()
    first = make(random_state=np.random.RandomState(3)).fit(X, y).predict(X)
    second = make(random_state=np.random.RandomState(3)).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)


def test_outputs_do_not_depend_on_internal_chunk_sizes(fitted, monkeypatch):
    model, X, y = fitted
    expected = outputs(model, X, y)
    monkeypatch.setattr(skebm._chunking, "PAIRS_PER_CHUNK", 700)
    monkeypatch.setattr(skebm._chunking, "MAX_ROWS_PER_CHUNK", 7)  # both estimators' policy
    monkeypatch.setattr(skebm.distributions.mixture, "_BLOCK_ELEMENTS", 64)
    chunked = outputs(model, X, y)
    # The network runs in float32; the mode's gradient ascent may amplify the
    # last-bit differences of other batch shapes a little.
    np.testing.assert_allclose(chunked.pop(1), expected.pop(1), rtol=1e-3, atol=1e-3)
    assert_same_outputs(chunked, expected, rtol=1e-6, atol=1e-6)


def test_point_predictions_of_a_row_do_not_depend_on_the_other_rows(fitted):
    model, X, y = fitted
    whole = model.predict_dist(X)
    part = model.predict_dist(X[7:19])
    np.testing.assert_allclose(part.mean(), whole.mean()[7:19], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(part.logpdf(y[7:19]), whole.logpdf(y)[7:19], rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(part.ppf(0.8), whole.ppf(0.8)[7:19], rtol=1e-6, atol=1e-6)


# ====================================================================== threads
def torch_threads(estimator, X, y):
    """A 'score' that reports the torch intra-op threads of the process that ran fit."""
    return torch.get_num_threads()


def test_fits_in_joblib_workers_share_the_cores_instead_of_oversubscribing(monkeypatch):
    # Without a user setting, loky gives each of n_jobs workers cpu_count // n_jobs
    # threads (through OMP_NUM_THREADS, which torch reads when it starts).
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    X, y = linear_data(40)
    n_jobs = 2
    result = cross_validate(ESTIMATORS["energy"](max_epochs=1), X, y, cv=2, n_jobs=n_jobs,
                            scoring=torch_threads, error_score="raise")
    per_worker = max(1, joblib.cpu_count() // n_jobs)
    assert np.all(result["test_score"] <= per_worker)
