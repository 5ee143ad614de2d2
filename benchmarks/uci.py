"""The UCI regression benchmark: skebm's defaults against its peers and published numbers.

Protocol (Hernandez-Lobato & Adams, 2015; as used by MC dropout, deep ensembles
and NGBoost): the standard 20 random 90/10 splits of every data set found in
``../shared/data/uci``; inputs standardised with the training split's
statistics (a ``StandardScaler`` in a ``Pipeline``); test NLL per point in the
original units of y; mean +- standard error over the splits.

Methods (all at their defaults): ``ebm`` = ``EnergyRegressor()``,
``ensemble`` = ``EnsembleRegressor(EnergyRegressor(), n_estimators=5)`` (the
equal mixture of five differently seeded fits), ``distilled`` =
``DistilledMDNRegressor()`` (teacher weight 0.5), ``mdn`` =
``DistilledMDNRegressor(teacher_weight=0)`` (a plain maximum-likelihood MDN),
and the peers ``ngboost`` = ``NGBRegressor()``, ``catboost`` =
``CatBoostRegressor(loss_function="RMSEWithUncertainty")`` and ``pgbm`` =
PGBM's defaults, each scored by its Normal predictions (``uci_peers.py`` says
how each is run; a peer that is not installed is skipped with a message).

Discrete targets (wine-quality-red, integers 3-8): a density fitted to integers
can put spikes on them, so its continuous likelihood is unbounded and not
comparable. There every method is trained on dequantised targets
``y + U(-0.5, 0.5)`` (fixed seed per split) and scored by the discrete
log-probability of the test integer, ``log P(y - 0.5 < Y <= y + 0.5)``, a
proper likelihood of the observed integer.

Defaults must generalise beyond these six, so ``--datasets diabetes`` adds
a real table in no benchmark set and not in shared/: scikit-learn's bundled
diabetes data (442 rows, 10 features, disease progression after one year;
Efron et al. 2004), with 20 random 90/10 splits of its own
(``ShuffleSplit(20, test_size=0.1, random_state=0)``); it has no published
NLL, and is run only when named.

``--datasets energy-grid`` is a table with tied columns and a target on a
grid, built at run time from the shared ``energy`` table and its 20 splits:
the eight columns of energy (each with 2 to 12 distinct values), two constant
columns, and the heating load divided by 500 and rounded to 0.001 (a grid of
0.5 in the original units, about 1.5 times the conditional noise's standard
deviation, so a density can put spikes on the grid points). It is run only
when named.

Every finished (data set, split, method) is appended to ``--results`` (JSON
lines) at once; a rerun skips what is there, so runs resume and merge.

Run: ``python benchmarks/uci.py [--datasets yacht energy] [--splits 20]
[--methods ebm ensemble catboost pgbm ngboost] [--threads 1] [--results FILE]``;
``python benchmarks/uci.py --from-results FILE [FILE ...]`` prints the table of
results files (merged).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from uci_peers import PEERS, run_peer

UCI = Path(os.environ.get(
    "SKEBM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "uci"
SKEBM_METHODS = ("ebm", "ensemble", "distilled", "mdn")
METHODS = SKEBM_METHODS + PEERS
DISCRETE = {"wine-quality-red"}
# The strongest published test NLL under this protocol (mean +- standard error
# over the splits) and its method, as tabulated by TreeFlow (Wielopolski &
# Zieba, ECAI 2023, Table 3); wine from data/uci/README.md (NGBoost, 2020).
PUBLISHED = {
    "concrete": (2.75, 0.21, "PGBM"), "energy": (0.37, 0.28, "RoNGBa"),
    "kin8nm": (-1.20, 0.02, "deep ensembles"), "power-plant": (2.60, 0.02, "PGBM"),
    "wine-quality-red": (0.91, 0.06, "NGBoost"), "yacht": (0.05, 0.28, "PGBM"),
}


EXTRA = ("diabetes", "energy-grid")
EXTRA_SPLITS = 20
GRID = 0.001
"""Grid step of the ``energy-grid`` target (0.5 in the units of energy's target)."""


def energy_grid(X_train, y_train, X_test, y_test):
    """The ``energy-grid`` table from a split of energy: two constant columns, gridded y."""
    def columns(X):
        return np.column_stack([X, np.zeros(len(X)), np.full(len(X), 7.5)])

    def target(y):
        return np.round(y / 500 / GRID) * GRID

    return columns(X_train), target(y_train), columns(X_test), target(y_test)


def load_split(name: str, split: int):
    """``X_train, y_train, X_test, y_test`` of one standard split."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import ShuffleSplit

        X, y = load_diabetes(return_X_y=True, scaled=False)
        splits = ShuffleSplit(EXTRA_SPLITS, test_size=0.1, random_state=0).split(X)
        train, test = list(splits)[split]
        return X[train], y[train], X[test], y[test]
    if name == "energy-grid":
        return energy_grid(*load_split("energy", split))
    folder = UCI / name
    data = np.loadtxt(folder / "data.txt")
    features = np.loadtxt(folder / "index_features.txt", dtype=int)
    target = int(np.loadtxt(folder / "index_target.txt"))
    train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=int)
    test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=int)
    return (data[train][:, features], data[train, target],
            data[test][:, features], data[test, target])


def available_datasets() -> list[str]:
    return sorted(p.name for p in UCI.glob("*") if (p / "data.txt").exists())


def n_splits(name: str) -> int:
    if name == "energy-grid":
        return n_splits("energy")
    if name in EXTRA:
        return EXTRA_SPLITS
    return int(np.loadtxt(UCI / name / "n_splits.txt"))


def make_skebm(method: str, params: dict, seed: int):
    """The method's estimator behind a StandardScaler."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skebm import DistilledMDNRegressor, EnergyRegressor
    from skebm.ensemble import EnsembleRegressor

    if method in ("ebm", "ensemble"):
        model = EnergyRegressor(random_state=seed, **params)
    elif method == "distilled":
        model = DistilledMDNRegressor(random_state=seed, **params)
    else:
        model = DistilledMDNRegressor(teacher_weight=0.0, random_state=seed, **params)
    pipeline = make_pipeline(StandardScaler(), model)
    return EnsembleRegressor(pipeline, n_estimators=5) if method == "ensemble" else pipeline


def evaluate(dist, y_test: np.ndarray, discrete: bool) -> dict:
    """Test NLL (discrete log-probability for integer targets), RMSE of the mean, CRPS."""
    from skebm.metrics import crps

    if discrete:
        from skebm.calibration._discrete import interval_log_probability

        nll = -float(np.mean(interval_log_probability(dist, y_test)))
    else:
        nll = -float(np.mean(dist.logpdf(y_test)))
    rmse = float(np.sqrt(np.mean((dist.mean() - y_test) ** 2)))
    return {"nll": nll, "rmse": rmse, "crps": crps(y_test, dist)}


def run_skebm(method, params, X_train, y_train, X_test, y_test, seed, discrete) -> dict:
    from skebm.pipeline import predict_dist

    model = make_skebm(method, params, seed)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    result = evaluate(predict_dist(model, X_test), y_test, discrete)
    members = [member[-1] for member in getattr(model, "estimators_", [model])]
    extra = {"proposal_weight": float(np.mean([m.proposal_weight_ for m in members]))} \
        if hasattr(members[0], "proposal_weight_") else {}
    epochs = int(np.mean([m.n_iter_ for m in members]))
    return {**result, "fit_s": fit_s, "epochs": epochs, **extra}


def gaussian_result(loc, scale, fit_s, y_test, discrete) -> dict:
    """Scores of a peer's Normal predictions ``N(loc, scale^2)``."""
    from skebm.distributions import GaussianMixtureDistribution

    n = len(loc)
    dist = GaussianMixtureDistribution(np.zeros((n, 1)), np.reshape(loc, (n, 1, 1)),
                                       np.reshape(scale, (n, 1, 1)))
    return {**evaluate(dist, y_test, discrete), "fit_s": fit_s}


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary_table(records: list[dict]) -> str:
    """Markdown table: mean +- standard error over splits, next to the strongest published NLL."""
    lines = ["| data set | method | splits | test NLL | RMSE | CRPS | fit s | strongest "
             "published NLL |", "|" + "---|" * 8]
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        method = record["method"] + (f" [{record['tag']}]" if record.get("tag") else "")
        groups.setdefault((record["dataset"], method), []).append(record)
    order = {m: i for i, m in enumerate(METHODS)}
    for (name, method), rows in sorted(groups.items(), key=lambda kv: (
            kv[0][0], order.get(kv[0][1].split()[0], 99), kv[0][1])):
        cells = []
        for key in ("nll", "rmse", "crps", "fit_s"):
            values = np.array([r[key] for r in rows])
            error = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else 0.0
            mean = values.mean()  # three significant digits below 0.1 (energy-grid's RMSE)
            digits = 3 if abs(mean) >= 0.1 or mean == 0 else 2 - math.floor(math.log10(abs(mean)))
            cells.append(f"{mean:.{digits}f} ± {error:.{digits}f}")
        value, error, by = PUBLISHED.get(name, (None, None, ""))
        published = f"{value:.2f} ± {error:.2f} ({by})" if by else ""
        label = name + (" (discrete)" if name in DISCRETE else "")
        lines.append(f"| {label} | {method} | {len(rows)} | " + " | ".join(cells)
                     + f" | {published} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=None,
                        help="data sets to run (default: every one present)")
    parser.add_argument("--splits", type=int, default=20, help="first N splits")
    parser.add_argument("--split-ids", type=int, nargs="*", default=None,
                        help="explicit split numbers (overrides --splits)")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON-lines file of per-split results (appended; reruns skip "
                             "what it holds)")
    parser.add_argument("--params", type=json.loads, default={},
                        help='JSON keyword arguments for the skebm estimators, e.g. '
                             '\'{"max_epochs": 5}\'')
    parser.add_argument("--tag", default="", help="label stored with the results")
    parser.add_argument("--from-results", type=Path, nargs="+", default=None,
                        help="print the table of one or more results files and exit")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.from_results is not None:
        print(summary_table([r for path in args.from_results for r in read_results(path)]))
        return
    import torch
    from _common import machine

    torch.set_num_threads(args.threads)
    datasets = args.datasets or available_datasets()
    unknown = sorted(set(datasets) - set(available_datasets()) - set(EXTRA))
    if unknown:
        print(f"skipping: {', '.join(unknown)} not found in {UCI} (set SKEBM_SHARED_DATA)")
        datasets = [name for name in datasets if name not in unknown]
    if not datasets:
        print(f"skipping: no data set to run (none found in {UCI}; set SKEBM_SHARED_DATA)")
        return
    print(f"machine: {machine()}", flush=True)
    done = {(r["dataset"], r["split"], r["method"], r.get("tag", ""))
            for r in (read_results(args.results) if args.results else [])}
    records = []
    # Split-major order, so that a partial run already covers every data set.
    for split in range(max(n_splits(name) for name in datasets)):
        for name in datasets:
            wanted = args.split_ids if args.split_ids is not None else range(
                min(args.splits, n_splits(name)))
            if split not in wanted:
                continue
            X_train, y_train, X_test, y_test = load_split(name, split)
            discrete = name in DISCRETE
            if discrete:  # dequantise the training targets with a fixed seed per split
                rng = np.random.default_rng(1000 + split)
                y_train = y_train + rng.uniform(-0.5, 0.5, size=y_train.shape)
            for method in args.methods:
                if (name, split, method, args.tag) in done:
                    continue
                if method in PEERS:
                    peer = run_peer(method, X_train, y_train, X_test, split, args.threads)
                    if peer is None:
                        continue
                    result = gaussian_result(*peer, y_test, discrete)
                else:
                    result = run_skebm(method, args.params, X_train, y_train, X_test, y_test,
                                       split, discrete)
                record = {"dataset": name, "split": split, "method": method, "tag": args.tag,
                          **result}
                records.append(record)
                print(json.dumps(record), flush=True)
                if args.results is not None:
                    args.results.parent.mkdir(parents=True, exist_ok=True)
                    with args.results.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
    table_records = read_results(args.results) if args.results else records
    if args.tag:
        table_records = [r for r in table_records if r.get("tag", "") == args.tag]
    print(summary_table(table_records))


if __name__ == "__main__":
    main()
