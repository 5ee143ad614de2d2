"""Data, settings and loaders shared by the tests."""

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path

import numpy as np
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

FAST = dict(max_epochs=3, n_noise_samples=32, hidden_size=16, random_state=0)
"""Settings for tests that need a fitted model, not a good one."""

TINY = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, random_state=0)
"""Smaller still: for tests that only check the scikit-learn contract (shapes, errors)."""


def assert_same_fit(actual, expected):
    """Two fits of one configuration predict alike: bit for bit on the CPU, and to
    float rounding on CUDA, whose kernels (cuDNN's convolutions among them) are not
    bit-for-bit deterministic. ``device="auto"`` trains on CUDA when it is there."""
    if torch.cuda.is_available():
        np.testing.assert_allclose(actual, expected, rtol=1e-5)
    else:
        np.testing.assert_array_equal(actual, expected)


def heteroscedastic(n=600, seed=0):
    """y | x ~ N(2x, (0.2 + 0.3|x|)^2) with x ~ U(-2, 2)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, 2 * X[:, 0] + (0.2 + 0.3 * np.abs(X[:, 0])) * rng.normal(size=n)


def tiny_estimators():
    """Factories of tiny, seeded estimators of each kind, by name."""
    from skebm import DistilledMDNRegressor, EnergyRegressor

    return {
        "energy": lambda **kw: EnergyRegressor(**{**TINY, "n_inference_samples": 64, **kw}),
        "distilled": lambda **kw: DistilledMDNRegressor(**{**TINY, **kw}),
    }


def linear_data(n=60, n_features=2, n_targets=1, seed=0):
    """y = x_0 + N(0, 0.2^2) noise, one or several identical target columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    Y = X[:, :1] @ np.ones((1, n_targets)) + 0.2 * rng.normal(size=(n, n_targets))
    return X, (Y[:, 0] if n_targets == 1 else Y)


def load_script(path: Path, name: str | None = None, folder: Path | None = None):
    """The Python script at ``path`` as a module, without running what its
    ``if __name__ == "__main__"`` block runs; ``folder`` (by default the script's)
    is on the path while it loads, for the modules it imports from there."""
    folder = str(folder or path.parent)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name or path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def load_benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module (``benchmarks/`` on the path)."""
    return load_script(BENCHMARKS / f"{name}.py", f"{name}_benchmark", BENCHMARKS)


def skebm_estimator_classes() -> list[type]:
    """Every concrete scikit-learn estimator class that skebm defines, found by import.

    Walks every module of the package (private ones too), as scikit-learn's
    ``all_estimators`` does, so an estimator missing from ``__all__`` is still
    found. A module whose optional dependency is not installed is skipped.
    """
    from sklearn.base import BaseEstimator

    import skebm

    found = set()
    for info in pkgutil.walk_packages(skebm.__path__, prefix="skebm."):
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as error:
            if (error.name or "skebm").split(".")[0] == "skebm":
                raise
            continue
        found.update(cls for _, cls in inspect.getmembers(module, inspect.isclass)
                     if issubclass(cls, BaseEstimator) and cls.__module__.startswith("skebm.")
                     and not inspect.isabstract(cls) and not cls.__name__.startswith(("_", "Base")))
    return sorted(found, key=lambda cls: cls.__name__)
