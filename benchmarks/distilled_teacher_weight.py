"""DistilledMDNRegressor: plain MDN training (teacher_weight=0) against the teacher (0.5).

The paper's Sec. 3.3 ablation on the two 1-D toy sets. For every seed and
teacher weight, fit with the estimator's defaults otherwise and report the
exact test NLL of the predicted mixture (lower is better), the fit time and,
for gustafsson2020, KL(p_true || p_model) on the paper's 2048 x 2048 grid.

* gustafsson2020: trained on the paper's CSV; tested on 2000 fresh draws from
  :func:`skebm.datasets.make_gustafsson2020` (the CSV has no test split).
* brando2019: trained on the train CSV, tested on the test CSV.

Run: ``python benchmarks/distilled_teacher_weight.py [--seeds 3] [--max-epochs 60]
[--dataset gustafsson2020|brando2019|both]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table

from skebm import DistilledMDNRegressor
from skebm.datasets import make_gustafsson2020
from skebm.metrics import gustafsson2020_kl, negative_log_likelihood

TEACHER_WEIGHTS = (0.0, 0.5)
GUSTAFSSON_TEST_SEED = 2020


def test_data(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "gustafsson2020":
        return make_gustafsson2020(2000, random_state=GUSTAFSSON_TEST_SEED)
    return load_toy(dataset, "test")


def run(dataset: str, seeds: int, max_epochs: int) -> None:
    X, y = load_toy(dataset, "train")
    X_test, y_test = test_data(dataset)
    rows = []
    for weight in TEACHER_WEIGHTS:
        nll, kl, seconds = [], [], []
        for seed in range(seeds):
            model = DistilledMDNRegressor(teacher_weight=weight, max_epochs=max_epochs,
                                          random_state=seed)
            start = time.perf_counter()
            model.fit(X, y)
            seconds.append(time.perf_counter() - start)
            nll.append(negative_log_likelihood(y_test, model.predict_dist(X_test)))
            if dataset == "gustafsson2020":
                kl.append(gustafsson2020_kl(model))
        row = [weight, f"{np.mean(nll):.4f} ± {np.std(nll):.4f}", min(nll), max(nll)]
        row.append(f"{np.mean(kl):.4f} ± {np.std(kl):.4f}" if kl else "–")
        rows.append([*row, np.mean(seconds)])
    print(f"\n{dataset}: {seeds} seeds, max_epochs={max_epochs}, other parameters default")
    print_table(["teacher_weight", "test NLL (mean ± sd)", "min", "max", "KL (mean ± sd)",
                 "fit s"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--dataset", choices=("gustafsson2020", "brando2019", "both"),
                        default="both")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(machine())
    warm_up = np.linspace(0.0, 1.0, 20).reshape(-1, 1)  # first-call costs out of the timings
    DistilledMDNRegressor(max_epochs=1, random_state=0).fit(warm_up, warm_up[:, 0])
    datasets = ("gustafsson2020", "brando2019") if args.dataset == "both" else (args.dataset,)
    for dataset in datasets:
        run(dataset, args.seeds, args.max_epochs)


if __name__ == "__main__":
    main()
