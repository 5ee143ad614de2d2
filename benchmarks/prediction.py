"""Prediction throughput and memory.

Times ``predict`` (the mean) and ``predict_dist(...).logpdf`` for 2048 rows
with M = 1024 importance samples (medians of repeats), then predicts the mean
for 10^6 rows while recording the peak resident memory, to show that memory
stays bounded by the chunk size rather than growing with rows x samples.

Run: ``python benchmarks/prediction.py [--threads 2] [--rows 1000000]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table

from skebm import EnergyRegressor


def median_time(call, repeats: int = 5) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    X, y = load_toy("gustafsson2020")
    model = EnergyRegressor(random_state=0, n_inference_samples=1024).fit(X, y)
    rows_2048 = np.linspace(-3, 3, 2048).reshape(-1, 1)
    Y = np.column_stack([y[:1024], X[:1024, 0]])
    model_2d = EnergyRegressor(random_state=0, max_epochs=5).fit(X[:1024], Y)
    table = [
        ["predict mean, 1-D target (grid of 2048)", median_time(lambda: model.predict(rows_2048))],
        ["predict_dist + logpdf, 1-D target", median_time(
            lambda: model.predict_dist(rows_2048).logpdf(np.zeros(2048)))],
        ["predict mean, 2-D target (M = 1024 IS)", median_time(
            lambda: model_2d.predict(rows_2048))],
        ["sample 100 per row, 2-D target (SIR)", median_time(
            lambda: model_2d.sample(rows_2048, 100), repeats=3)],
    ]
    print_table(["2048 rows", "median seconds"], table)
    before = peak_rss_mb()
    big = np.random.default_rng(0).uniform(-3, 3, size=(args.rows, 1))
    start = time.perf_counter()
    model_2d.predict(big)
    elapsed = time.perf_counter() - start
    print(f"\npredict on {args.rows} rows, 2-D target, M = 1024: {elapsed:.1f} s; peak RSS "
          f"{before:.0f} MB before, {peak_rss_mb():.0f} MB after "
          f"(inputs alone: {big.nbytes / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
