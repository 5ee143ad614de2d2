"""DistilledMDNRegressor: plain MDN training (teacher_weight=0) against the teacher (0.5).

The paper's Sec. 3.3 ablation on the two 1-D toy sets and a synthetic image
task. For every seed and teacher weight, fit with the estimator's defaults otherwise and report the
exact test NLL of the predicted mixture (lower is better), the fit time and,
for gustafsson2020, KL(p_true || p_model) on the paper's 2048 x 2048 grid.

* gustafsson2020: trained on the paper's CSV; tested on 2000 fresh draws from
  :func:`skebm.datasets.make_gustafsson2020` (the CSV has no test split).
* brando2019: trained on the train CSV, tested on the test CSV.
* images: counting blobs in 24 x 24 images from
  :func:`skebm.datasets.make_blob_images` (2000 to train, 1000 to test), with
  the built-in CNN extractor.

Run: ``python benchmarks/distilled_teacher_weight.py [--seeds 3] [--max-epochs 60]
[--dataset gustafsson2020|brando2019|images|all] [--threads 1]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table

from skebm import DistilledMDNRegressor
from skebm.datasets import make_blob_images, make_gustafsson2020
from skebm.metrics import gustafsson2020_kl, negative_log_likelihood

TEACHER_WEIGHTS = (0.0, 0.5)
GUSTAFSSON_TEST_SEED = 2020


DATASETS = ("gustafsson2020", "brando2019", "images")


def train_and_test_data(dataset: str):
    if dataset == "images":
        return (*make_blob_images(2000, image_size=24, random_state=0),
                *make_blob_images(1000, image_size=24, random_state=1))
    if dataset == "gustafsson2020":
        return (*load_toy(dataset, "train"),
                *make_gustafsson2020(2000, random_state=GUSTAFSSON_TEST_SEED))
    return (*load_toy(dataset, "train"), *load_toy(dataset, "test"))


def run(dataset: str, seeds: int, max_epochs: int) -> None:
    X, y, X_test, y_test = train_and_test_data(dataset)
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
    parser.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine())
    warm_up = np.linspace(0.0, 1.0, 20).reshape(-1, 1)  # first-call costs out of the timings
    DistilledMDNRegressor(max_epochs=1, random_state=0).fit(warm_up, warm_up[:, 0])
    datasets = DATASETS if args.dataset == "all" else (args.dataset,)
    for dataset in datasets:
        run(dataset, args.seeds, args.max_epochs)


if __name__ == "__main__":
    main()
