"""Check the CUDA path end to end: fit, quality against the CPU, pickling to a CPU, speed.

On a machine with CUDA, fits ``EnergyRegressor`` and ``DistilledMDNRegressor``
with ``device="auto"`` on a table (the paper's 1-D toy problem) and on blob-count
images with the default CNN and with ResNet-18, each with and without
``mixed_precision``, and checks for every fit that

* ``device="auto"`` chose CUDA and the network lives there;
* predictions, interval bounds and the held-out score are finite;
* the quality matches a CPU fit of the same configuration (held-out mean
  log-likelihood within ``--tolerance`` nats) and, except with ``--fast``,
  beats an unconditional Gaussian by at least the same margin;
* the pickled model loads and predicts in a subprocess that sees no GPU
  (``CUDA_VISIBLE_DEVICES=""``), agreeing with the GPU's predictions.

It prints one row per fit with fit and predict throughput: images/s, or
(row, noise sample) pairs/s for tables, and the fit throughput of the CPU
reference fit beside it, measured in the same run. Without CUDA it prints
``skipped: no CUDA`` and exits with status 0. ``--device cpu`` runs the same
code path on the CPU (the "device" fits are then CPU fits, compared with CPU
reference fits of another seed), and ``--fast`` shrinks data and epochs so
that the script itself can be checked anywhere in a few minutes (too short a
training to expect a useful model, so only the agreement is checked, within
``FAST_TOLERANCE`` nats: three epochs of ResNet-18 on 400 images land up to
0.4 nats apart from one seed to the next). A fit that diverges is reported
as a failed configuration and the others still run. The exit status is 1
when any check fails.

``--image-epochs N`` caps the epochs of every image fit, on the device and on
the CPU, where the estimators' own ``max_epochs="auto"`` schedule (about 2000
optimiser steps) would make the CPU reference fits of ResNet-18 take longer
than the time on the device allows. The CPU reference of a configuration does
not depend on ``mixed_precision`` (it is always a float32 fit), so it is fitted
once and compared with both device fits.

Run: ``python benchmarks/gpu_check.py [--device cuda|cpu] [--fast] [--tolerance 0.3]
[--image-epochs N]``
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine, print_table
from scipy.stats import norm

import skebm
from skebm.datasets import make_blob_images, make_gustafsson2020
from skebm.exceptions import TrainingDivergedError

ESTIMATORS = {"energy": skebm.EnergyRegressor, "distilled": skebm.DistilledMDNRegressor}
# (data, extractor, mixed_precision)
FAST_TOLERANCE = 1.0
"""Agreement required of ``--fast`` fits, nats (see the module docstring)."""
CONFIGURATIONS = [("table", "auto", False), ("images", "cnn", False), ("images", "cnn", True),
                  ("images", "resnet18", False), ("images", "resnet18", True)]

LOAD_ON_CPU = """
import pickle, sys, warnings
import numpy as np
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the DeviceWarning of a CUDA model loaded on the CPU
    with open(sys.argv[1], "rb") as file:
        model = pickle.load(file)
    X = np.load(sys.argv[2])
    assert model.device_.type == "cpu", model.device_
    assert all(p.device.type == "cpu" for p in model.module_.parameters())
    np.save(sys.argv[3], model.predict(X))
"""


def make_data(kind: str, fast: bool, seed: int):
    """Training and held-out data: the 1-D toy table, or blob-count images."""
    n_train, n_test = (1000 if kind == "table" else 400, 200) if fast else (4000, 1000)
    if kind == "table":
        X, y = make_gustafsson2020(n_samples=n_train + n_test, random_state=seed)
    else:
        size = 16 if fast else 32
        X, y = make_blob_images(n_train + n_test, image_size=size, random_state=seed)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def gaussian_baseline(y_train, y_test) -> float:
    """Held-out mean log-likelihood of a Gaussian fitted to the training targets."""
    return float(norm(y_train.mean(), y_train.std()).logpdf(y_test).mean())


def fit_and_measure(name: str, extractor: str, mixed_precision: bool, device: str,
                    data, fast: bool, seed: int, image_epochs: int | None = None) -> dict:
    X, y, X_test, y_test = data
    params = dict(feature_extractor=extractor, mixed_precision=mixed_precision, device=device,
                  random_state=seed)
    if fast:
        params.update(max_epochs=20 if X.ndim == 2 else 3)
    if image_epochs is not None and X.ndim > 2:
        params.update(max_epochs=image_epochs)
    model = ESTIMATORS[name](**params)
    start = time.perf_counter()
    model.fit(X, y)
    _synchronise(model)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    prediction = model.predict(X_test)
    predict_seconds = time.perf_counter() - start
    low, high = model.predict_dist(X_test).interval(0.9)
    rows_trained = model.n_iter_ * len(X)
    pairs = rows_trained * (1 + model.n_noise_samples)
    return {
        "model": model,
        "prediction": prediction,
        "finite": bool(np.all(np.isfinite(prediction)) and np.all(np.isfinite(low))
                       and np.all(np.isfinite(high))),
        "score": float(model.score(X_test, y_test)),
        "fit_throughput": (pairs if X.ndim == 2 else rows_trained) / fit_seconds,
        "predict_throughput": len(X_test) / predict_seconds,
    }


def _synchronise(model) -> None:
    if model.device_.type == "cuda":
        torch.cuda.synchronize(model.device_)


def loads_on_cpu(model, X_test, expected, scale: float) -> tuple[bool, float]:
    """Whether the pickled model predicts like ``expected`` in a process without CUDA."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        with open(folder / "model.pkl", "wb") as file:
            pickle.dump(model, file)
        np.save(folder / "X.npy", X_test)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        result = subprocess.run(
            [sys.executable, "-c", LOAD_ON_CPU, str(folder / "model.pkl"), str(folder / "X.npy"),
             str(folder / "prediction.npy")], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return False, float("nan")
        loaded = np.load(folder / "prediction.npy")
    # Another device (and bfloat16 autocast on another kind of hardware) changes the
    # last bits of the network's outputs; 1% of the targets' spread is far beyond that.
    difference = float(np.max(np.abs(loaded - expected)) / scale)
    return difference < 0.01, difference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--fast", action="store_true", help="small data, few epochs")
    parser.add_argument("--tolerance", type=float, default=0.3,
                        help="allowed gap in held-out mean log-likelihood, nats "
                             f"(at least {FAST_TOLERANCE} with --fast)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-epochs", type=int, default=None,
                        help="cap on the epochs of every image fit (default: the estimators' "
                             "own schedule)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA")
        return 0
    device = "auto" if args.device == "cuda" else "cpu"
    tolerance = max(args.tolerance, FAST_TOLERANCE) if args.fast else args.tolerance
    print(machine(), "|", torch.cuda.get_device_name() if args.device == "cuda" else "CPU only")
    header = ["estimator", "data", "extractor", "mixed precision", "finite", "on device",
              "score", "CPU score", "baseline", "quality", "CPU load (max diff)",
              "fit throughput", "CPU fit throughput", "predict images|rows/s"]
    rows, failures, references = [], 0, {}
    for data_kind, extractor, mixed_precision in CONFIGURATIONS:
        data = make_data(data_kind, args.fast, args.seed)
        baseline = gaussian_baseline(data[1], data[3])
        for name in ESTIMATORS:
            try:
                result = fit_and_measure(name, extractor, mixed_precision, device, data,
                                         args.fast, args.seed, args.image_epochs)
                if (name, data_kind, extractor) not in references:
                    references[name, data_kind, extractor] = fit_and_measure(
                        name, extractor, False, "cpu", data, args.fast,
                        args.seed + (args.device == "cpu"), args.image_epochs)
                reference = references[name, data_kind, extractor]
            except TrainingDivergedError as error:
                failures += 1
                print("FAIL", name, data_kind, extractor, mixed_precision, "diverged:", error,
                      flush=True)
                continue
            model = result["model"]
            on_device = model.device_.type == args.device and all(
                p.device.type == args.device for p in model.module_.parameters())
            quality = (abs(result["score"] - reference["score"]) <= tolerance
                       and (args.fast or result["score"] >= baseline + tolerance))
            loaded, difference = loads_on_cpu(model, data[2], result["prediction"],
                                              float(np.std(data[1])))
            passed = result["finite"] and on_device and quality and loaded
            failures += not passed
            unit = "pairs/s" if data_kind == "table" else "images/s"
            rows.append([name, data_kind, extractor, mixed_precision, result["finite"],
                         on_device, result["score"], reference["score"], baseline, quality,
                         f"{loaded} ({difference:.1e})",
                         f"{result['fit_throughput']:.4g} {unit}",
                         f"{reference['fit_throughput']:.4g} {unit}",
                         result["predict_throughput"]])
            print(("PASS" if passed else "FAIL"), *rows[-1], flush=True)
    print_table(header, rows)
    n_configurations = len(CONFIGURATIONS) * len(ESTIMATORS)
    print(f"{n_configurations - failures} of {n_configurations} configurations passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
