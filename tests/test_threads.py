"""The torch thread policy of fit and prediction (skebm._threads)."""

import pickle
import threading

import numpy as np
import pytest
import torch
from helpers import TINY, linear_data, tiny_estimators

from skebm import EnergyRegressor, _threads
from skebm._threads import MULTI_THREAD_WORK, auto_threads, torch_threads


@pytest.fixture
def four_threads():
    """torch set to 4 intra-op threads for the test, the previous setting restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(4)
    yield 4
    torch.set_num_threads(previous)


@pytest.mark.parametrize(("batch", "row_shape", "hidden", "expected"), [
    (64, (20,), 32, 1),  # a default table fit: 4e4
    (4096, (100,), 64, 3),  # a wide table at a large batch: 2.6e7
    (64, (28, 28), 32, 1),  # small grey images: 1.6e6
    (64, (64, 64, 3), 32, 3),  # RGB images: 2.5e7
    (64, (96, 96, 3), 64, 3),
])
def test_auto_threads_is_one_for_small_work_and_the_limit_for_large(batch, row_shape, hidden,
                                                                   expected):
    assert (expected == 1) == (batch * np.prod(row_shape) * hidden <= MULTI_THREAD_WORK)
    assert auto_threads(batch, row_shape, hidden, limit=3, idle=4.0) == expected


def test_auto_threads_uses_only_idle_cores():
    assert auto_threads(64, (96, 96, 3), 64, limit=8, idle=2.7) == 2
    assert auto_threads(64, (96, 96, 3), 64, limit=8, idle=-3.0) == 1  # load above the cores


def test_auto_threads_never_exceeds_torchs_own_setting():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert auto_threads(64, (96, 96, 3), 64, idle=16.0) == 1
    finally:
        torch.set_num_threads(previous)


def test_torch_threads_restores_the_setting_also_when_the_block_raises(four_threads):
    with pytest.raises(RuntimeError), torch_threads(2):
        assert torch.get_num_threads() == 2
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == four_threads


@pytest.fixture(params=["this torch", "process-wide"])
def backend(request, four_threads, monkeypatch):
    """This torch build's thread setting, or a stand-in for a process-wide backend."""
    if request.param == "process-wide":
        count = [four_threads]
        monkeypatch.setattr(torch, "get_num_threads", lambda: count[0])
        monkeypatch.setattr(torch, "set_num_threads", lambda n: count.__setitem__(0, n))
        monkeypatch.setattr(_threads, "PER_THREAD_SETTING", False)
    return four_threads


def test_torch_threads_in_two_python_threads_restore_the_setting_of_each(backend):
    four_threads = backend
    # The worker's context opens first and closes last, around the main thread's.
    opened, main_done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with torch_threads(1):
            opened.set()
            main_done.wait(timeout=10)
        seen["worker after"] = torch.get_num_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    assert opened.wait(timeout=10)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    main_done.set()
    thread.join(timeout=10)
    assert torch.get_num_threads() == four_threads
    assert seen["worker after"] == four_threads


@pytest.mark.parametrize("name", ["energy", "distilled"])
def test_fit_and_predict_record_use_and_restore_the_thread_count(name, four_threads,
                                                                 monkeypatch):
    seen = []
    original = torch.nn.Linear.forward

    def spy(module, inputs):
        seen.append(torch.get_num_threads())
        return original(module, inputs)

    monkeypatch.setattr(torch.nn.Linear, "forward", spy)
    X, y = linear_data()
    model = tiny_estimators()[name]().fit(X, y)
    assert model.n_threads_ == 1 and set(seen) == {1}  # a small table fit: one thread
    assert torch.get_num_threads() == four_threads
    seen.clear()
    model.predict(X)
    assert set(seen) == {1} and torch.get_num_threads() == four_threads


def test_an_explicit_n_threads_is_used_and_recorded(four_threads, monkeypatch):
    seen = []
    original = torch.nn.Linear.forward
    monkeypatch.setattr(torch.nn.Linear, "forward",
                        lambda module, inputs: (seen.append(torch.get_num_threads()),
                                                original(module, inputs))[1])
    X, y = linear_data()
    model = EnergyRegressor(**TINY, n_threads=2, n_inference_samples=16).fit(X, y)
    assert model.n_threads_ == 2 and set(seen) == {2}
    assert torch.get_num_threads() == four_threads


def test_the_thread_count_is_restored_when_fit_raises(four_threads):
    X, y = linear_data()
    y = y.copy()
    y[0] = np.nan
    with pytest.raises(ValueError):
        EnergyRegressor(**TINY, n_threads=2).fit(X, y)
    assert torch.get_num_threads() == four_threads


def test_invalid_n_threads_is_a_clear_error():
    X, y = linear_data()
    with pytest.raises(ValueError, match="n_threads"):
        EnergyRegressor(**TINY, n_threads=0).fit(X, y)


def test_a_model_pickled_without_n_threads_loads_and_predicts(four_threads):
    X, y = linear_data()
    model = EnergyRegressor(**TINY, n_inference_samples=16).fit(X, y)
    state = model.__getstate__()
    del state["n_threads"], state["n_threads_"]
    state["_skebm_pickle_format"] = 3
    old = object.__new__(EnergyRegressor)
    old.__setstate__(state)
    assert old.get_params()["n_threads"] == "auto" and old.n_threads_ is None
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(old)).predict(X), model.predict(X))
    assert torch.get_num_threads() == four_threads


def test_a_predicted_distribution_evaluates_with_the_fitted_thread_count(four_threads,
                                                                        monkeypatch):
    X, y = linear_data()
    model = EnergyRegressor(**TINY, n_inference_samples=16).fit(X, y)
    dist = model.predict_dist(X)
    seen = []
    original = torch.nn.Linear.forward
    monkeypatch.setattr(torch.nn.Linear, "forward",
                        lambda module, inputs: (seen.append(torch.get_num_threads()),
                                                original(module, inputs))[1])
    dist.interval(0.9)  # computed after predict_dist returned
    assert set(seen) == {model.n_threads_} and torch.get_num_threads() == four_threads
