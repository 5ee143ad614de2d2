"""Quickstart: learn a bimodal and skewed conditional density with EnergyRegressor
===============================================================================

The toy problem of Gustafsson et al. (2020) has a known density p(y | x): for
x < 0 the target is bimodal, for x >= 0 it is log-normal (skewed). This script

1. fits an EnergyRegressor (an energy-based model trained with a learned
   proposal, the method of Gustafsson, Danelljan & Schön, AISTATS 2022),
2. prints KL(p_true || p_model) on the paper's 2048 x 2048 grid (paper Table 1:
   about 0.03 for the proposal method) and the mean log-likelihood of held-out
   test data next to that of the true density (the best any model can do),
3. saves a figure of the learned density next to the truth.

Run it with ``make quickstart`` or::

    python examples/quickstart.py [--output quickstart.png] [--fast]

``--fast`` (or the environment variable ``SKEBM_EXAMPLE_FAST=1``) trains on
less data for two epochs: a smoke test, not a result.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402

from skebm import EnergyRegressor  # noqa: E402
from skebm.datasets import gustafsson2020_log_density, make_gustafsson2020  # noqa: E402
from skebm.metrics import gustafsson2020_kl  # noqa: E402
from skebm.plotting import plot_conditional_density  # noqa: E402

PLOT_RANGE = (-3.0, 3.0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--output", type=Path, default=Path("quickstart.png"),
                        help="where to save the figure (default: ./quickstart.png)")
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    n_train = 400 if args.fast else 2000
    X_train, y_train = make_gustafsson2020(n_samples=n_train, random_state=0)
    X_test, y_test = make_gustafsson2020(n_samples=2000, random_state=1)

    settings = dict(max_epochs=2, n_noise_samples=32, hidden_size=16) if args.fast else {}
    model = EnergyRegressor(random_state=0, verbose=1, **settings)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(f"Trained {model.n_iter_} epochs on {n_train} rows "
          f"in {time.perf_counter() - start:.1f} s (device: {model.device_}).")

    kl = gustafsson2020_kl(model, n_grid=256 if args.fast else 2048)
    test_log_likelihood = model.score(X_test, y_test)
    best_log_likelihood = float(np.mean(gustafsson2020_log_density(X_test[:, 0], y_test)))
    print(f"KL(p_true || p_model)               : {kl:.4f}  (paper, proposal method: ~0.03)")
    print(f"Test log-likelihood, EnergyRegressor : {test_log_likelihood:.4f}")
    print(f"Test log-likelihood, true density    : {best_log_likelihood:.4f}  (the best possible)")

    figure = plot_figure(model, X_train, y_train, kl, n_grid=60 if args.fast else 300)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=110)
    print(f"Saved the figure to {args.output}")


def plot_figure(model, X, y, kl: float, n_grid: int):
    """The true density with the training data, and the model's density with its samples."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True,
                                         layout="constrained")
    style = dict(n_grid=n_grid, cmap="viridis", norm=PowerNorm(0.5, vmin=0.0, vmax=4.0))
    plot_conditional_density(gustafsson2020_log_density, x_range=PLOT_RANGE, y_range=PLOT_RANGE,
                             X=X, y=y, ax=left, **style)
    left.set_title("True density p(y | x) and training data")
    model_samples = model.sample(X, n_samples=1)[:, 0]  # one draw from p(y | x) per input
    plot_conditional_density(model, x_range=PLOT_RANGE, y_range=PLOT_RANGE, X=X, y=model_samples,
                             ax=right, **style)
    right.set_title(f"EnergyRegressor and samples from it (KL = {kl:.3f})")
    return figure


if __name__ == "__main__":
    main()
