"""Time to quality of the default EnergyRegressor on both 1-D toy sets.

For each seed: fit ``EnergyRegressor(random_state=seed)`` with every other
parameter at its default, time the fit, and score it with the paper's metric
(KL to the true density on the first set, grid test NLL on the second).
``--model mdn`` does the same for the plain MDN with the same defaults,
``DistilledMDNRegressor(teacher_weight=0, random_state=seed)``, and
``--model distilled`` for ``DistilledMDNRegressor(random_state=seed)``.

Run: ``python benchmarks/defaults.py [--seeds 5] [--threads 2] [--model energy]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm.metrics import grid_negative_log_likelihood, gustafsson2020_kl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", choices=["energy", "mdn", "distilled"], default="energy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    if args.model == "energy":
        def make(seed):
            return EnergyRegressor(random_state=seed)
    else:
        teacher_weight = {"mdn": 0.0, "distilled": DistilledMDNRegressor().teacher_weight}
        def make(seed):
            return DistilledMDNRegressor(teacher_weight=teacher_weight[args.model],
                                         random_state=seed)
    print(f"model: {make(0)!r}")
    X, y = load_toy("gustafsson2020")
    X_train, y_train = load_toy("brando2019", "train")
    X_test, y_test = load_toy("brando2019", "test")
    rows = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        model = make(seed).fit(X, y)
        fit_toy = time.perf_counter() - start
        kl = gustafsson2020_kl(model)
        toy_weight = getattr(model, "proposal_weight_", 0.0)
        start = time.perf_counter()
        model = make(seed).fit(X_train, y_train)
        fit_brando = time.perf_counter() - start
        nll = grid_negative_log_likelihood(y_test, model.predict_dist(X_test),
                                           low=-12.5, high=12.5, n_points=8192)
        rows.append([seed, kl, fit_toy, nll, fit_brando])
        share = (f", proposal weights {toy_weight:.3f} / {model.proposal_weight_:.3f}"
                 if hasattr(model, "proposal_weight_") else "")
        print(f"  seed {seed}: KL {kl:.4f} ({fit_toy:.1f} s), Brando NLL {nll:.3f} "
              f"({fit_brando:.1f} s){share}", flush=True)
    values = np.array([r[1:] for r in rows])
    rows.append(["mean", *values.mean(axis=0)])
    rows.append(["worst", values[:, 0].max(), values[:, 1].max(), values[:, 2].max(),
                 values[:, 3].max()])
    print_table(["seed", "toy KL", "toy fit s", "Brando test NLL", "Brando fit s"], rows)


if __name__ == "__main__":
    main()
