"""The UCI regression benchmark: skebm's defaults against NGBoost and published numbers.

Protocol (Hernandez-Lobato & Adams, 2015; as used by MC dropout, deep ensembles
and NGBoost): the standard 20 random 90/10 splits of every data set found in
``../shared/data/uci``; inputs standardised with the training split's
statistics (a ``StandardScaler`` in a ``Pipeline``); test NLL per point in the
original units of y; mean +- standard error over the splits.

Methods (all at their defaults): ``ebm`` = ``EnergyRegressor()``,
``distilled`` = ``DistilledMDNRegressor()`` (teacher weight 0.5), ``mdn`` =
``DistilledMDNRegressor(teacher_weight=0)`` (a plain maximum-likelihood MDN) and
``ngboost`` = ``NGBRegressor()``. NGBoost 0.6 needs scikit-learn < 1.7, so it
runs in its own virtual environment, ``.venv-ngboost`` in the repository root
(created with ``pip install ngboost`` on first use), one subprocess per split;
it is skipped with a message when that fails.

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

Every finished (data set, split, method) is appended to ``--results`` (JSON
lines) at once; a rerun skips what is there, so runs resume and merge.

Run: ``python benchmarks/uci.py [--datasets yacht energy] [--splits 20]
[--methods ebm distilled mdn ngboost] [--threads 1] [--results FILE]``;
``python benchmarks/uci.py --from-results FILE [FILE ...]`` prints the table of
results files (merged).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

UCI = Path(os.environ.get(
    "SKEBM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "uci"
ROOT = Path(__file__).resolve().parents[1]
NGBOOST_VENV = ROOT / ".venv-ngboost"
METHODS = ("ebm", "distilled", "mdn", "ngboost")
DISCRETE = {"wine-quality-red"}
# Published test NLL (data/uci/README.md): MC dropout, deep ensembles, NGBoost.
PUBLISHED = {
    "concrete": (2.94, 3.06, 3.04), "energy": (1.21, 1.38, 0.60), "kin8nm": (-1.14, -1.20, -0.49),
    "power-plant": (2.81, 2.79, 2.79), "wine-quality-red": (0.93, 0.94, 0.91),
    "yacht": (1.25, 1.18, 0.20),
}


EXTRA = ("diabetes",)
EXTRA_SPLITS = 20


def load_split(name: str, split: int):
    """``X_train, y_train, X_test, y_test`` of one standard split."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import ShuffleSplit

        X, y = load_diabetes(return_X_y=True, scaled=False)
        splits = ShuffleSplit(EXTRA_SPLITS, test_size=0.1, random_state=0).split(X)
        train, test = list(splits)[split]
        return X[train], y[train], X[test], y[test]
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
    if name in EXTRA:
        return EXTRA_SPLITS
    return int(np.loadtxt(UCI / name / "n_splits.txt"))


def make_skebm(method: str, params: dict, seed: int):
    """The method's estimator behind a StandardScaler."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skebm import DistilledMDNRegressor, EnergyRegressor

    if method == "ebm":
        model = EnergyRegressor(random_state=seed, **params)
    elif method == "distilled":
        model = DistilledMDNRegressor(random_state=seed, **params)
    else:
        model = DistilledMDNRegressor(teacher_weight=0.0, random_state=seed, **params)
    return make_pipeline(StandardScaler(), model)


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
    fitted = model[-1]
    extra = {"proposal_weight": fitted.proposal_weight_} if hasattr(fitted, "proposal_weight_") \
        else {}
    return {**result, "fit_s": fit_s, "epochs": int(fitted.n_iter_), **extra}


def ngboost_python() -> Path | None:
    """The python of ``.venv-ngboost``, created on first use; ``None`` if that fails."""
    python = NGBOOST_VENV / "bin" / "python"
    check = [str(python), "-c", "import ngboost"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {NGBOOST_VENV} with `pip install ngboost` ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(NGBOOST_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "ngboost"], check=True)
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"NGBoost unavailable, skipping it ({error})", flush=True)
        return None
    return python if subprocess.run(check, capture_output=True).returncode == 0 else None


def run_ngboost(python, X_train, y_train, X_test, y_test, seed, discrete, threads) -> dict:
    """Fit ``NGBRegressor()`` in the NGBoost environment; score its Normal predictions here."""
    from skebm.distributions import GaussianMixtureDistribution

    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(inputs, X_train=X_train, y_train=y_train, X_test=X_test, seed=seed)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
        subprocess.run([str(python), __file__, "--ngboost-worker", str(inputs), str(outputs)],
                       check=True, env=env)
        out = np.load(outputs)
        loc, scale, fit_s = out["loc"], out["scale"], float(out["fit_s"])
    n = len(loc)
    dist = GaussianMixtureDistribution(np.zeros((n, 1)), loc.reshape(n, 1, 1),
                                       scale.reshape(n, 1, 1))
    return {**evaluate(dist, y_test, discrete), "fit_s": fit_s}


def ngboost_worker(inputs: str, outputs: str) -> None:
    """Runs under ``.venv-ngboost``: fit NGBoost with its defaults, save loc and scale."""
    from ngboost import NGBRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.load(inputs)
    model = make_pipeline(StandardScaler(),
                          NGBRegressor(random_state=int(data["seed"]), verbose=False))
    start = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    fit_s = time.perf_counter() - start
    params = model[-1].pred_dist(model[0].transform(data["X_test"])).params
    np.savez(outputs, loc=params["loc"], scale=params["scale"], fit_s=fit_s)


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary_table(records: list[dict]) -> str:
    """Markdown table: mean +- standard error over splits, next to the published NLL."""
    lines = ["| data set | method | splits | test NLL | RMSE | CRPS | fit s | published NLL "
             "(MC dropout / ensembles / NGBoost) |", "|" + "---|" * 8]
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
            cells.append(f"{values.mean():.3f} ± {error:.3f}")
        published = " / ".join(f"{v:.2f}" for v in PUBLISHED.get(name, ()))
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
    python = ngboost_python() if "ngboost" in args.methods else None
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
                if method == "ngboost":
                    if python is None:
                        continue
                    result = run_ngboost(python, X_train, y_train, X_test, y_test, split,
                                         discrete, args.threads)
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
    if len(sys.argv) == 4 and sys.argv[1] == "--ngboost-worker":
        ngboost_worker(sys.argv[2], sys.argv[3])
    else:
        main()
