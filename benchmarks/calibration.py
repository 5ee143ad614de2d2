"""Held-out calibration before and after ``RecalibratedRegressor``.

For each data set and split, fits ``RecalibratedRegressor(model, cv=--cv,
shuffled KFold)`` on the training rows, with ``model`` ``EnergyRegressor``
(``--model energy``, default settings) or ``DistilledMDNRegressor``; the raw
model is its ``estimator_`` (the same model fitted on all training rows). It
then measures on the test rows, pooled over the splits: coverage of the
central 50/80/90/95% intervals, the calibration error (mean absolute deviation
of the empirical PIT CDF from uniform) and the test NLL, raw and recalibrated.

Data sets: the toy problems of ``skebm.datasets`` (fresh train/test draws per
split), small blob-count images (``make_blob_images``), and the UCI sets in
``../shared/data/uci`` (their standard splits 0..--splits-1; skipped when absent).

Acceptance (issue 12): after recalibration every level within +-3 points,
test NLL not worse than raw by more than 0.02 nats.

Run: ``python benchmarks/calibration.py [--splits 3] [--cv 3] [--model energy]
[--datasets gustafsson2020 brando2019 blobs concrete:6 yacht:20 ...] [--threads 1]``
(``name:k`` runs k splits of that data set instead of ``--splits``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import SHARED_DATA, machine, print_table
from sklearn.model_selection import KFold

import skebm
from skebm.calibration import RecalibratedRegressor, calibration_error, pit
from skebm.datasets import make_blob_images, make_brando2019, make_gustafsson2020
from skebm.metrics import interval_coverage, negative_log_likelihood

LEVELS = (0.5, 0.8, 0.9, 0.95)
TOLERANCE = 0.03
NLL_TOLERANCE = 0.02
UCI = ["concrete", "energy", "kin8nm", "power-plant", "wine-quality-red", "yacht"]
TOY = {
    "gustafsson2020": (make_gustafsson2020, 2000, 2000),
    "brando2019": (make_brando2019, 1900, 1900),
    "blobs": (lambda n, random_state: make_blob_images(n, random_state=random_state), 600, 600),
}


def splits(name: str, n_splits: int):
    """``(X_train, y_train, X_test, y_test)`` for each split of a data set."""
    if name in TOY:
        make, n_train, n_test = TOY[name]
        for split in range(n_splits):
            X, y = make(n_train + n_test, random_state=1000 + split)
            yield X[:n_train], y[:n_train], X[n_train:], y[n_train:]
        return
    folder = SHARED_DATA / "uci" / name
    data = np.loadtxt(folder / "data.txt")
    features = np.loadtxt(folder / "index_features.txt", dtype=int)
    target = int(np.loadtxt(folder / "index_target.txt"))
    for split in range(n_splits):
        train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=int)
        test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=int)
        yield (data[train][:, features], data[train, target],
               data[test][:, features], data[test, target])


def make_model(kind: str, seed: int):
    if kind == "energy":
        return skebm.EnergyRegressor(random_state=seed)
    return skebm.DistilledMDNRegressor(random_state=seed)


def evaluate(name: str, n_splits: int, args) -> dict:
    """Pooled test metrics of one data set, raw and recalibrated."""
    pooled = {"y": [], "raw": [], "recalibrated": []}
    nll = {"raw": [], "recalibrated": []}
    for split, (X, y, X_test, y_test) in enumerate(splits(name, n_splits)):
        cv = KFold(args.cv, shuffle=True, random_state=split)
        recalibrated = RecalibratedRegressor(make_model(args.model, split), cv=cv).fit(X, y)
        raw = recalibrated.estimator_
        pooled["y"].append(y_test)
        for key, model in (("raw", raw), ("recalibrated", recalibrated)):
            dist = model.predict_dist(X_test)
            pooled[key].append(dist)
            nll[key].append(negative_log_likelihood(y_test, dist) * len(y_test))
    y_all = np.concatenate(pooled["y"])
    summary = {"n_test": len(y_all)}
    for key in ("raw", "recalibrated"):
        coverage = [np.sum([interval_coverage(y, dist, level) * len(y)
                            for y, dist in zip(pooled["y"], pooled[key])]) / len(y_all)
                    for level in LEVELS]
        pits = np.concatenate([pit(dist, None, y) for y, dist in zip(pooled["y"], pooled[key])])
        summary[key] = dict(coverage=coverage, ce=calibration_error(pits),
                            nll=float(np.sum(nll[key]) / len(y_all)))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--model", choices=["energy", "distilled"], default="energy")
    parser.add_argument("--datasets", nargs="+", default=[*TOY, *UCI])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"model: {args.model}, cv={args.cv} (shuffled KFold)\n")
    rows, failures = [], []
    for entry in args.datasets:
        name, _, count = entry.partition(":")
        n_splits = int(count) if count else args.splits
        if name in UCI and not (SHARED_DATA / "uci" / name).exists():
            print(f"skipping {name}: not found under {SHARED_DATA / 'uci'}")
            continue
        start = time.perf_counter()
        summary = evaluate(name, n_splits, args)
        for key in ("raw", "recalibrated"):
            result = summary[key]
            rows.append([name, key, n_splits, summary["n_test"],
                         *[f"{c:.3f}" for c in result["coverage"]],
                         f"{result['ce']:.4f}", f"{result['nll']:.3f}"])
        after, before = summary["recalibrated"], summary["raw"]
        off = [lv for lv, c in zip(LEVELS, after["coverage"]) if abs(c - lv) > TOLERANCE + 1e-9]
        worse = after["nll"] - before["nll"]
        if off or worse > NLL_TOLERANCE:
            failures.append(f"{name}: levels off {off}, NLL change {worse:+.3f}")
        print(f"{name}: done in {time.perf_counter() - start:.0f} s "
              f"(NLL change {worse:+.3f})", flush=True)
    print()
    print_table(["data set", "model", "splits", "n test", *[f"cov {lv:.0%}" for lv in LEVELS],
                 "calib. error", "test NLL"], rows)
    print("\nacceptance (every level within +-3 points, NLL not worse by > 0.02):",
          "met" if not failures else "NOT met: " + "; ".join(failures))


if __name__ == "__main__":
    main()
