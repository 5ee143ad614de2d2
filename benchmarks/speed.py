"""Training speed at the paper's exact settings: skebm against a straightforward loop.

Both train the paper's 1-D model on the first toy set (2000 rows) with batch 32,
M = 1024 noise samples, K = 4 proposal components and 10-unit layers. Each
repeat times one epoch of each, interleaved, so machine noise hits both alike;
the table reports medians and the ratio.

Run: ``python benchmarks/speed.py [--repeats 5] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import load_toy, machine, print_table
from paper_loop import PaperNetwork, train_epoch

from skebm import EnergyRegressor

PAPER = dict(batch_size=32, n_noise_samples=1024, n_components=4, hidden_size=10,
             feature_extractor_kwargs={"hidden_sizes": (10, 10)})


def time_paper_loop(x: torch.Tensor, y: torch.Tensor) -> float:
    network = PaperNetwork()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    start = time.perf_counter()
    train_epoch(network, optimizer, x, y)
    return time.perf_counter() - start


def time_skebm(X, y) -> float:
    model = EnergyRegressor(max_epochs=1, learning_rate=1e-3, random_state=0, **PAPER)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_toy("gustafsson2020")
    x_t = torch.tensor(X, dtype=torch.float32)
    y_t = torch.tensor(y, dtype=torch.float32)
    time_paper_loop(x_t, y_t), time_skebm(X, y)  # warm up
    paper, ours = [], []
    for _ in range(args.repeats):
        paper.append(time_paper_loop(x_t, y_t))
        ours.append(time_skebm(X, y))
    p, o = statistics.median(paper), statistics.median(ours)
    print(f"machine: {machine()}")
    print_table(["implementation", "median s/epoch", "ms/iteration", "repeats"],
                [["straightforward loop (benchmarks/paper_loop.py)", p, 1000 * p / 63,
                  args.repeats],
                 ["skebm EnergyRegressor", o, 1000 * o / 63, args.repeats]])
    print(f"\nspeed-up (straightforward / skebm): {p / o:.2f}x")


if __name__ == "__main__":
    main()
