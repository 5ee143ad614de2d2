"""How training cost grows with the number of rows N and noise samples M.

Times one epoch (median of repeats) of EnergyRegressor for a grid of N and M
on synthetic 1-D data; cost should grow linearly in N x (M + 1).

Run: ``python benchmarks/scaling.py [--threads 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import machine, print_table

from skebm import EnergyRegressor
from skebm.datasets import make_gustafsson2020


def epoch_seconds(X, y, n_noise_samples: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        model = EnergyRegressor(max_epochs=1, n_noise_samples=n_noise_samples, random_state=0)
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    rows = []
    for n in (500, 2000, 8000):
        X, y = make_gustafsson2020(n, random_state=0)
        for m in (32, 128, 512):
            seconds = epoch_seconds(X, y, m)
            rows.append([n, m, seconds, 1e6 * seconds / (n * (m + 1))])
    print_table(["N", "M", "s/epoch", "us per (row, sample) pair"], rows)


if __name__ == "__main__":
    main()
