"""The paper's Table 1 for both 1-D toy sets, with skebm's estimators.

Rows: the learned proposal (``noise="mdn"``) with K in {1, 4, 16}, the NCE
baseline (``noise="gaussian"``) with sigma_1 in {0.05, 0.1, 0.2, 0.4, 0.8} and
sigma_2 = 8 sigma_1, and the baseline with sigma chosen by ``GridSearchCV`` on
the training data (by held-out log-likelihood, the estimator's ``score``).
Columns: mean, min and max over seeds, next to the paper's number (the mean of
its best 5 of 20 runs, so expect ours to be a little worse on average).

* gustafsson2020: KL(p_true || p_model) on the 2048 x 2048 grid (lower is better).
* brando2019: test NLL with each density normalised on 8192 points in
  [-12.5, 12.5] (lower is better).

Everything else is left at the estimator defaults unless ``--paper-settings``
is given (75 epochs, batch 32, lr 1e-3, M = 1024 as in the paper).

Run: ``python benchmarks/table1.py [--seeds 3] [--dataset gustafsson2020|brando2019|both]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table
from sklearn.model_selection import GridSearchCV

from skebm import EnergyRegressor
from skebm.metrics import grid_negative_log_likelihood, gustafsson2020_kl

SIGMA_1 = [0.05, 0.1, 0.2, 0.4, 0.8]
PAPER = {
    "gustafsson2020": {"mdn K=1": 0.038, "mdn K=4": 0.032, "mdn K=16": 0.035,
                       **dict(zip([f"gaussian s1={s}" for s in SIGMA_1],
                                  [0.042, 0.036, 0.040, 0.042, 0.042]))},
    "brando2019": {"mdn K=1": 1.69, "mdn K=4": 1.67, "mdn K=16": 1.65,
                   **dict(zip([f"gaussian s1={s}" for s in SIGMA_1],
                              [2.30, 1.98, 1.72, 1.67, 1.70]))},
}
PAPER_SETTINGS = dict(max_epochs=75, batch_size=32, learning_rate=1e-3, n_noise_samples=1024)


def evaluate(dataset: str, model) -> float:
    if dataset == "gustafsson2020":
        return gustafsson2020_kl(model)
    X_test, y_test = load_toy("brando2019", "test")
    return grid_negative_log_likelihood(y_test, model.predict_dist(X_test),
                                        low=-12.5, high=12.5, n_points=8192)


def configurations():
    for k in (1, 4, 16):
        yield f"mdn K={k}", dict(noise="mdn", n_components=k)
    for s in SIGMA_1:
        yield f"gaussian s1={s}", dict(noise="gaussian", sigmas=(s, 8 * s))


def run(dataset: str, seeds: int, extra: dict) -> None:
    X, y = load_toy(dataset, "train")
    rows = []
    for name, params in configurations():
        values, times = [], []
        for seed in range(seeds):
            model = EnergyRegressor(random_state=seed, **params, **extra)
            start = time.perf_counter()
            model.fit(X, y)
            times.append(time.perf_counter() - start)
            values.append(evaluate(dataset, model))
        rows.append([name, np.mean(values), np.min(values), np.max(values),
                     PAPER[dataset][name], np.median(times)])
        print(f"  {name}: {np.round(values, 4)}", flush=True)
    values = []
    for seed in range(seeds):
        search = GridSearchCV(
            EnergyRegressor(noise="gaussian", random_state=seed, **extra),
            {"sigmas": [(s, 8 * s) for s in SIGMA_1]}, cv=3,
        ).fit(X, y)
        values.append(evaluate(dataset, search.best_estimator_))
        print(f"  GridSearchCV picked {search.best_params_['sigmas']}", flush=True)
    rows.append(["gaussian, GridSearchCV s1", np.mean(values), np.min(values), np.max(values),
                 "-", "-"])
    metric = "KL" if dataset == "gustafsson2020" else "test NLL"
    print(f"\n### {dataset}: {metric}, {seeds} seeds\n")
    print_table(["model", f"mean {metric}", "min", "max", "paper", "median fit s"], rows)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dataset", default="both",
                        choices=["gustafsson2020", "brando2019", "both"])
    parser.add_argument("--paper-settings", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    extra = PAPER_SETTINGS if args.paper_settings else {}
    print(f"machine: {machine()}; settings: {extra or 'defaults'}")
    datasets = ["gustafsson2020", "brando2019"] if args.dataset == "both" else [args.dataset]
    for dataset in datasets:
        run(dataset, args.seeds, extra)


if __name__ == "__main__":
    main()
