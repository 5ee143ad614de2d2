"""device="auto" picks CUDA when there is one, and the CPU otherwise."""

import pytest
import torch

from skebm import EnergyRegressor
from skebm._devices import resolve_device
from skebm.datasets import make_gustafsson2020


def test_auto_device_is_cuda_when_cuda_is_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_auto_device_is_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_device_trains_and_predicts_on_cuda():
    X, y = make_gustafsson2020(n_samples=100, random_state=0)
    model = EnergyRegressor(max_epochs=1, n_noise_samples=16, hidden_size=16,
                            random_state=0).fit(X, y)
    assert model.device_.type == "cuda"
    assert all(parameter.is_cuda for parameter in model.module_.parameters())
    assert model.predict(X[:3]).dtype.kind == "f"
