"""Diagnostic: would mixing the energy with its own proposal help, and where?

A fitted ``EnergyRegressor`` holds two conditional densities: the energy
``p`` (with its defensive background) and the proposal ``q``, the mixture
density network trained with it to minimise KL(p || q). Where a plain MDN
beats the EBM (near-Gaussian noise, few rows), ``q`` may beat ``p``. For each
split of each data set this fits the default ``EnergyRegressor()`` behind a
``StandardScaler`` (as ``uci.py`` does) and prints the test NLL of
``(1 - a) p + a q`` for the fixed weights ``a`` in 0, 0.1, 0.25, 0.5, 0.75
and 1, one JSON line per split, then the means over splits. Nothing is
chosen on the test rows: the grid is fixed; the per-split best is printed
only as an upper bound of what a weight chosen on held-out rows could gain.
Continuous targets only (the UCI sets but wine, and ``diabetes``).

Run: ``PYTHONPATH=benchmarks python benchmarks/archive/proposal_mixture.py --datasets
diabetes concrete yacht energy --splits 0 10 [--results FILE]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from uci import load_split, make_skebm

from skebm.distributions import GaussianMixtureDistribution

WEIGHTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def mixture_nll(log_p: np.ndarray, log_q: np.ndarray, weight: float) -> float:
    """Mean NLL of ``(1 - weight) p + weight q`` from the two log-densities."""
    with np.errstate(divide="ignore"):
        mixed = np.logaddexp(np.log1p(-weight) + log_p, np.log(weight) + log_q)
    return float(-np.mean(mixed))


def split_record(name: str, split: int) -> dict:
    X_train, y_train, X_test, y_test = load_split(name, split)
    model = make_skebm("ebm", {}, split).fit(X_train, y_train)
    dist = model[-1].predict_dist(model[0].transform(X_test))
    proposal = GaussianMixtureDistribution(*dist._evaluator.proposal_components(dist._rows))
    log_p, log_q = dist.logpdf(y_test), proposal.logpdf(y_test)
    return {"dataset": name, "split": split,
            "nll": {str(w): mixture_nll(log_p, log_q, w) for w in WEIGHTS}}


def summary(records: list[dict]) -> None:
    for name in dict.fromkeys(r["dataset"] for r in records):
        table = np.array([[r["nll"][str(w)] for w in WEIGHTS]
                          for r in records if r["dataset"] == name])
        base = table[:, 0]
        cells = [f"a={w}: {m:.3f} ({d:+.3f} ± {e:.3f})" for w, m, d, e in zip(
            WEIGHTS, table.mean(0), (table - base[:, None]).mean(0),
            (table - base[:, None]).std(0, ddof=1) / np.sqrt(len(table)))]
        print(f"{name} ({len(table)} splits): " + "; ".join(cells)
              + f"; per-split best {table.min(1).mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["diabetes", "concrete", "yacht",
                                                          "energy"])
    parser.add_argument("--splits", type=int, nargs=2, default=(0, 5), metavar=("FIRST", "END"))
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON-lines file: appended to; with --from-results, read")
    parser.add_argument("--from-results", action="store_true")
    args = parser.parse_args()
    if args.from_results:
        summary([json.loads(line) for line in args.results.read_text().splitlines()])
        return
    torch.set_num_threads(1)
    records = []
    for split in range(*args.splits):
        for name in args.datasets:
            record = split_record(name, split)
            records.append(record)
            print(json.dumps(record), flush=True)
            if args.results is not None:
                with args.results.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
    summary(records)


if __name__ == "__main__":
    main()
