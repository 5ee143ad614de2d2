"""Does ``hidden_size="auto"`` widen the network where the data pays for it?

Fits ``EnergyRegressor`` with several fixed widths on synthetic tables that
are in no benchmark set: Friedman's first function of 10 inputs (5 of them
irrelevant) with skewed, heteroscedastic noise, ``y = f(x) + s(x) * e`` with
``s(x) = 0.5 + x_1`` and ``e`` a standardised Gumbel variable. For each
number of training rows it prints the test NLL (5000 fresh rows; the exact
best is the true density's, printed beside), the RMSE of ``predict`` and the
fit time, per seed and as the mean, together with the width ``"auto"``
picks for that many rows.

Run: ``PYTHONPATH=benchmarks python benchmarks/archive/width.py [--rows 3000 20000]
[--widths 32 64 128] [--seeds 0 1] [--threads 1]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import machine, print_table
from scipy.stats import gumbel_r

from skebm import EnergyRegressor
from skebm._base import auto_hidden_size

GUMBEL = gumbel_r()


def make_table(n_rows: int, seed: int):
    """Inputs, targets and the true log-density of each target."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n_rows, 10))
    mean = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
            + 10 * X[:, 3] + 5 * X[:, 4])
    scale = 0.5 + X[:, 0]
    noise = (GUMBEL.rvs(size=n_rows, random_state=rng) - GUMBEL.mean()) / GUMBEL.std()
    y = mean + scale * noise
    log_density = GUMBEL.logpdf((y - mean) / scale * GUMBEL.std() + GUMBEL.mean()) \
        + np.log(GUMBEL.std() / scale)
    return X, y, log_density


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[3000, 20000])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    rows = []
    for n_rows in args.rows:
        print(f"{n_rows} rows: hidden_size='auto' picks {auto_hidden_size(n_rows)}", flush=True)
        for width in args.widths:
            nll, rmse, seconds = [], [], []
            for seed in args.seeds:
                X, y, _ = make_table(n_rows, seed)
                X_test, y_test, best = make_table(5000, 10_000 + seed)
                model = EnergyRegressor(hidden_size=width, random_state=seed)
                start = time.perf_counter()
                model.fit(X, y)
                seconds.append(time.perf_counter() - start)
                nll.append(-model.score(X_test, y_test))
                rmse.append(float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))))
                print(f"  width {width} seed {seed}: NLL {nll[-1]:.4f} (best {-best.mean():.4f}),"
                      f" RMSE {rmse[-1]:.4f}, {seconds[-1]:.1f} s", flush=True)
            rows.append([n_rows, width, " ".join(f"{v:.4f}" for v in nll), float(np.mean(nll)),
                         float(np.mean(rmse)), float(np.median(seconds))])
    print_table(["rows", "hidden_size", "test NLL per seed", "mean NLL", "mean RMSE",
                 "median fit s"], rows)


if __name__ == "__main__":
    main()
