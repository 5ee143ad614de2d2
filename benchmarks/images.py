"""CPU timing and accuracy on synthetic blob-count images (``make_blob_images``).

Each model is fitted with its default settings on ``--n-train`` single-channel
``uint8`` images (32x32 by default) of up to 20 Gaussian blobs, the target
being the blob count plus U(-0.5, 0.5) jitter, and evaluated on ``--n-test``
fresh images: R^2 of the predicted mean, the test NLL (minus the mean
log-likelihood; it cannot go below 0 for these dequantised counts) and the
coverage of central 90% intervals, next to the fitting and prediction times.

Run: ``python benchmarks/images.py [--n-train 3000] [--n-test 1000] [--image-size 32]
[--threads 2] [--models energy distilled] [--seed 0]``

``--models`` also knows ``energy-resnet18`` (the paper's backbone; slow on a
CPU) and ``energy-early-stopping``. ``DistilledMDNRegressor`` is included when
skebm provides it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import machine, print_table
from sklearn.metrics import r2_score

import skebm
from skebm.datasets import make_blob_images
from skebm.metrics import interval_coverage

MODELS = {
    "energy": ("EnergyRegressor()", lambda seed: skebm.EnergyRegressor(random_state=seed)),
    "energy-early-stopping": (
        "EnergyRegressor(early_stopping=True)",
        lambda seed: skebm.EnergyRegressor(early_stopping=True, random_state=seed),
    ),
    "energy-resnet18": (
        'EnergyRegressor(feature_extractor="resnet18")',
        lambda seed: skebm.EnergyRegressor(feature_extractor="resnet18", random_state=seed),
    ),
    "distilled": (
        "DistilledMDNRegressor()",
        lambda seed: skebm.DistilledMDNRegressor(random_state=seed),
    ),
}


def evaluate(build, X_train, y_train, X_test, y_test) -> list:
    model = build()
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dist = model.predict_dist(X_test)
    r2 = r2_score(y_test, dist.mean())
    nll = -float(np.mean(dist.logpdf(y_test)))
    coverage = interval_coverage(y_test, dist, confidence=0.9)
    predict_seconds = time.perf_counter() - start
    return [fit_seconds, fit_seconds / model.n_iter_, r2, nll, coverage, predict_seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=["energy", "distilled"],
                        choices=sorted(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = make_blob_images(args.n_train + args.n_test, image_size=args.image_size,
                            random_state=args.seed)
    X_train, y_train = X[: args.n_train], y[: args.n_train]
    X_test, y_test = X[args.n_train :], y[args.n_train :]
    rows = []
    for name in args.models:
        label, factory = MODELS[name]
        if name == "distilled" and not hasattr(skebm, "DistilledMDNRegressor"):
            print("skipping DistilledMDNRegressor: not in this skebm")
            continue
        print(f"fitting {label} ...", flush=True)
        rows.append([label, *evaluate(lambda f=factory: f(args.seed), X_train, y_train,
                                      X_test, y_test)])
    print(f"\nmachine: {machine()}")
    print(f"data: make_blob_images, {args.n_train} train / {args.n_test} test images, "
          f"{args.image_size}x{args.image_size}, seed {args.seed}\n")
    print_table(["model", "fit s", "s/epoch", "R2", "test NLL", "90% coverage", "predict s"],
                rows)


if __name__ == "__main__":
    main()
