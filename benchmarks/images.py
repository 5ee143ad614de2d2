"""Image regression suite: the energy model, the distilled and plain MDNs and NCE.

Five tasks in the spirit of the paper's image experiments (``_image_tasks.py``:
cell counting, a direction with a half-turn ambiguity on photograph textures,
a heteroscedastic "age", the 3-D pose of a wire-frame object, 4-D box
refinement), each with test images from a shifted source. Every model is fitted
with its default settings, once per seed, and scored on the test images: NLL
(minus the mean log-likelihood), the NLL of the test rows with a known second
mode, RMSE and MAE of the predicted mean, fit time and epochs, and the NLL of
the unshifted training-source rows held out for early stopping. The table gives
mean ± standard error over seeds, and per task the NLL of the uniform density
over the training targets' support.

Models (``--models``): ``ebm`` ``EnergyRegressor()``; ``distilled``
``DistilledMDNRegressor()``; ``mdn`` ``DistilledMDNRegressor(teacher_weight=0)``;
``nce`` ``EnergyRegressor(noise="gaussian")`` (fixed noise, sigmas 0.1 and 0.8
target standard deviations); ``nce-cv`` the same with sigmas (s, 8 s) chosen by
``GridSearchCV`` (2 folds, s in 0.05, 0.1, 0.2 standard deviations; 7 fits).

``--diagnose`` adds, on the ``angle`` task, where each model puts its mass on
the half-turn-symmetric rows held out for early stopping (images like the
training images): the predictive mass within ``--window`` radians of the true
direction and of its half turn, the share of rows whose second-mode mass is at
least 0.2 of the first's (also on the shifted test rows), which part of that
mass comes from the energy density, the learned proposal and the background,
the share of NCE noise draws (from the proposal, or the fixed Gaussians) that
fall near the second mode, and the epoch that early stopping kept.

Run: ``OMP_NUM_THREADS=2 python benchmarks/images.py [--tasks cells angle age pose box]
[--models ebm distilled mdn nce] [--seeds 3] [--n-train 2000] [--n-test 500]
[--image-size 32] [--threads 2] [--diagnose] [--feature-extractor auto]
[--results benchmarks/results/images.jsonl]``; ``--from-results`` prints the
tables of a results file without fitting. Results are appended per fit to
``--results`` (JSON lines) and fits already there are skipped.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine
from _image_tasks import TASKS, ImageTask
from scipy.stats import norm
from sklearn.model_selection import GridSearchCV

import skebm

RESULTS = Path(__file__).resolve().parent / "results" / "images.jsonl"
NCE_GRID = (0.05, 0.1, 0.2)
LABELS = {
    "ebm": "EnergyRegressor()",
    "distilled": "DistilledMDNRegressor()",
    "mdn": "DistilledMDNRegressor(teacher_weight=0)",
    "nce": 'EnergyRegressor(noise="gaussian")',
    "nce-cv": 'EnergyRegressor(noise="gaussian"), sigmas by GridSearchCV',
}


def build(name: str, seed: int, params: dict):
    """The unfitted model ``name`` with the task's ``params`` (e.g. ``channel_axis``)."""
    if name == "ebm":
        return skebm.EnergyRegressor(random_state=seed, **params)
    if name in ("distilled", "mdn"):
        extra = {"teacher_weight": 0.0} if name == "mdn" else {}
        return skebm.DistilledMDNRegressor(random_state=seed, **extra, **params)
    if name == "nce":
        return skebm.EnergyRegressor(noise="gaussian", random_state=seed, **params)
    if name == "nce-cv":
        grid = {"sigmas": [(s, 8 * s) for s in NCE_GRID]}
        return GridSearchCV(skebm.EnergyRegressor(noise="gaussian", random_state=seed,
                                                  **params), grid, cv=2)
    raise ValueError(f"unknown model {name!r}; choose from {sorted(LABELS)}")


def fit_model(name: str, seed: int, task: ImageTask, params: dict):
    """Fit ``name`` on the task's training images; returns (model, target shift, scale, s).

    ``nce-cv`` is fitted on standardised targets, so that one sigma grid, in
    standard deviations, fits every target column; its scores are mapped back.
    """
    shift, scale = np.zeros(1), np.ones(1)
    targets = task.y_train
    if name == "nce-cv":
        shift, scale = task.y_train.mean(axis=0), task.y_train.std(axis=0)
        targets = (task.y_train - shift) / scale
    model = build(name, seed, params)
    start = time.perf_counter()
    model.fit(task.X_train, targets)
    seconds = time.perf_counter() - start
    if name == "nce-cv":
        model = model.best_estimator_
    return model, shift, scale, seconds


def score(model, shift, scale, X, y, ambiguous: np.ndarray) -> dict:
    """Test NLL (all rows, rows with a second mode), RMSE and MAE of the mean."""
    dist = model.predict_dist(X)
    log_lik = dist.logpdf((y - shift) / scale) - np.sum(np.log(scale))
    errors = (shift + scale * dist.mean()) - y
    return {"nll": -float(np.mean(log_lik)),
            "nll_ambiguous": -float(np.mean(log_lik[ambiguous])) if ambiguous.any() else None,
            "rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors)))}


# -------------------------------------------------------------------------- diagnosis
def window_mass(dist, centres: np.ndarray, window: float, low: float, high: float):
    """Mass of each row's 1-D density within ``window`` of its centre (clipped to the range)."""
    return (dist.cdf(np.minimum(centres + window, high))
            - dist.cdf(np.maximum(centres - window, low)))


def with_weights(model, proposal_weight: float, background_weight: float = 0.0):
    """A copy of a fitted ``EnergyRegressor`` whose predictive density mixes its parts
    as given: ``proposal_weight=0`` is the energy density p alone, 1 the proposal q
    alone (training does not depend on either weight)."""
    part = copy.deepcopy(model)
    part.proposal_weight_, part.background_weight_ = proposal_weight, background_weight
    return part


def modes_masses(dist, first, second, window, low, high) -> dict:
    near_first = window_mass(dist, first, window, low, high)
    near_second = window_mass(dist, second, window, low, high)
    return {"mass_first": float(near_first.mean()), "mass_second": float(near_second.mean()),
            "second_share": float(np.mean(near_second >= 0.2 * near_first))}


def gaussian_noise_share(model, y, second, window, y_train) -> float:
    """Expected share of fixed-Gaussian NCE noise draws around ``y`` near ``second``."""
    sigmas = (np.asarray(model.sigmas) if model.sigmas is not None
              else np.array([0.1, 0.8]) * y_train.std())
    offset = (second - y)[:, None]
    mass = norm.cdf((offset + window) / sigmas) - norm.cdf((offset - window) / sigmas)
    return float(mass.mean())


def diagnose(name: str, model, task: ImageTask, window: float, n_draws: int = 64,
             seed: int = 0) -> dict:
    """Where ``model`` (fitted on the ``angle`` task) puts mass on symmetric rows."""
    low, high = float(task.low[0]), float(task.high[0])
    held_out = getattr(model, "validation_indices_", np.array([], dtype=np.intp))
    rows = held_out if len(held_out) else np.arange(len(task.y_train))
    second = task.second_mode_train[rows]
    rows, second = rows[~np.isnan(second)], second[~np.isnan(second)]
    X, first = task.X_train[rows], task.y_train[rows]
    dist = model.predict_dist(X)
    result = {"rows": int(len(rows)), **modes_masses(dist, first, second, window, low, high),
              "nll_symmetric_held_out": -float(np.mean(dist.logpdf(first)))}
    shifted = task.ambiguous_test()
    test_masses = modes_masses(model.predict_dist(task.X_test[shifted]), task.y_test[shifted],
                               task.second_mode_test[shifted], window, low, high)
    result.update({f"test_{key}": value for key, value in test_masses.items()})
    curve = [(r["epoch"], r["validation_score"]) for r in getattr(model, "history_", [])
             if r.get("validation_score") is not None]
    if curve:
        best = max(curve, key=lambda c: c[1])
        result.update(epochs=int(model.n_iter_), best_epoch=int(best[0]),
                      best_score=float(best[1]), last_score=float(curve[-1][1]),
                      curve=[[int(e), round(float(s), 3)] for e, s in curve])
    if not isinstance(model, skebm.EnergyRegressor):
        return result
    a, eps = float(model.proposal_weight_), float(model.background_weight_)
    energy = with_weights(model, 0.0).predict_dist(X)
    proposal = with_weights(model, 1.0).predict_dist(X)
    energy_masses = modes_masses(energy, first, second, window, low, high)
    proposal_masses = modes_masses(proposal, first, second, window, low, high)
    full_second = result["mass_second"]
    result.update(
        proposal_weight=a, background_weight=eps,
        energy=energy_masses, proposal=proposal_masses,
        second_from_energy=(1 - eps) * (1 - a) * energy_masses["mass_second"],
        second_from_proposal=(1 - eps) * a * proposal_masses["mass_second"])
    result["second_from_background"] = (full_second - result["second_from_energy"]
                                        - result["second_from_proposal"])
    training = np.setdiff1d(np.arange(len(task.y_train)), held_out)
    training = training[~np.isnan(task.second_mode_train[training])][:300]
    y, y2 = task.y_train[training], task.second_mode_train[training]
    if model.noise == "gaussian":
        result["noise_near_second"] = gaussian_noise_share(model, y, y2, window, task.y_train)
    else:  # the noise of noise="mdn" is the proposal q(y | x) of the training rows
        draws = with_weights(model, 1.0).predict_dist(task.X_train[training]).sample(
            n_draws, random_state=seed)  # (rows, n_draws)
        result["noise_near_second"] = float(np.mean(np.abs(draws - y2[:, None]) <= window))
        result["noise_near_first"] = float(np.mean(np.abs(draws - y[:, None]) <= window))
    return result


# ---------------------------------------------------------------------------- running
def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(args) -> None:
    done = {(r["kind"], r["task"], r["model"], r["seed"], r["n_train"], r["image_size"])
            for r in read_results(args.results)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    extractor = {} if args.feature_extractor == "auto" else {
        "feature_extractor": args.feature_extractor}
    for task_name in args.tasks:
        for seed in range(args.seeds):
            task = TASKS[task_name](args.n_train, args.n_test, args.image_size, seed)
            for name in args.models:
                key = (args.n_train, args.image_size)
                want_diagnosis = args.diagnose and task_name == "angle"
                if (("score", task_name, name, seed, *key) in done
                        and (not want_diagnosis
                             or ("diagnosis", task_name, name, seed, *key) in done)):
                    continue
                print(f"{task_name} seed {seed}: fitting {LABELS[name]} ...", flush=True)
                try:
                    model, shift, scale, seconds = fit_model(
                        name, seed, task, {**task.model_params, **extractor})
                except Exception as error:  # noqa: BLE001 - report it, go on with the rest
                    print(f"  failed: {type(error).__name__}: {error}", flush=True)
                    continue
                start = time.perf_counter()
                record = {"kind": "score", "task": task_name, "model": name, "seed": seed,
                          "n_train": args.n_train, "image_size": args.image_size,
                          "fit_s": seconds, "epochs": int(model.n_iter_),
                          "uniform_nll": task.uniform_nll(),
                          **score(model, shift, scale, task.X_test, task.y_test,
                                  task.ambiguous_test())}
                record["predict_s"] = time.perf_counter() - start
                held_out = getattr(model, "validation_indices_", [])
                if len(held_out) and name != "nce-cv":  # unshifted images, not trained on
                    record["nll_held_out"] = -float(np.mean(model.predict_dist(
                        task.X_train[held_out]).logpdf(task.y_train[held_out])))
                if name == "nce-cv":
                    record["sigmas"] = list(model.sigmas)
                records = [record]
                if want_diagnosis and name != "nce-cv":
                    records.append({**{k: record[k] for k in (
                        "task", "model", "seed", "n_train", "image_size")},
                        "kind": "diagnosis", **diagnose(name, model, task, args.window,
                                                        seed=seed)})
                with args.results.open("a") as handle:
                    handle.writelines(json.dumps(r) + "\n" for r in records)
                print(f"  NLL {record['nll']:.3f}, fit {seconds:.0f} s", flush=True)


def mean_se(values, digits: int = 3) -> str:
    """``"mean ± standard error"`` of the values given (the mean alone for one value)."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return ""
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    se = values.std(ddof=1) / np.sqrt(values.size)
    return f"{values.mean():.{digits}f} ± {se:.{digits}f}"


def summary_table(records: list[dict]) -> str:
    """Mean ± standard error over seeds, per task and model, with the uniform density."""
    scores = [r for r in records if r["kind"] == "score"]
    lines = ["| task | model | seeds | test NLL | NLL, rows with 2nd mode | RMSE | MAE "
             "| fit s | epochs | held-out NLL, unshifted |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in scores):
        rows = [r for r in scores if r["task"] == task]
        for name in dict.fromkeys(r["model"] for r in rows):
            mine = [r for r in rows if r["model"] == name]
            cells = [mean_se((r[k] for r in mine), digits) for k, digits in
                     (("nll", 3), ("nll_ambiguous", 3), ("rmse", 3), ("mae", 3),
                      ("fit_s", 0), ("epochs", 0))]
            cells.append(mean_se(r.get("nll_held_out") for r in mine))
            lines.append(f"| {task} | {LABELS[name]} | {len(mine)} | " + " | ".join(cells) + " |")
        lines.append(f"| {task} | uniform over the training range | | "
                     f"{rows[0]['uniform_nll']:.3f} | | | | | | |")
    return "\n".join(lines)


def diagnosis_table(records: list[dict]) -> str:
    """Mean over seeds of each model's diagnosis on the ``angle`` task."""
    found = [r for r in records if r["kind"] == "diagnosis"]
    columns = [("mass near true", "mass_first"), ("mass near half turn", "mass_second"),
               ("rows with 2nd ≥ 0.2 × 1st", "second_share"),
               ("same, shifted test rows", "test_second_share"),
               ("mass near half turn, test", "test_mass_second"),
               ("NLL", "nll_symmetric_held_out"), ("2nd-mode mass from p", "second_from_energy"),
               ("from q", "second_from_proposal"), ("from background", "second_from_background"),
               ("q's mass near half turn", ("proposal", "mass_second")),
               ("p's mass near half turn", ("energy", "mass_second")),
               ("noise draws near half turn", "noise_near_second"),
               ("proposal weight a", "proposal_weight"), ("epochs", "epochs"),
               ("best epoch", "best_epoch")]

    def value(record, key):
        return record.get(key[0], {}).get(key[1]) if isinstance(key, tuple) else record.get(key)

    lines = ["| model | " + " | ".join(c for c, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for name in dict.fromkeys(r["model"] for r in found):
        mine = [r for r in found if r["model"] == name]
        cells = []
        for _, key in columns:
            values = [value(r, key) for r in mine if value(r, key) is not None]
            cells.append(f"{np.mean(values):.3g}" if values else "")
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    curves = [f"{LABELS[r['model']]}, seed {r['seed']}: "
              + ", ".join(f"{e}:{s}" for e, s in r["curve"][:: max(1, len(r["curve"]) // 8)])
              for r in found if r.get("curve")]
    return "\n".join(lines + ["", "held-out score (epoch:score):", *curves])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--models", nargs="+", default=["ebm", "distilled", "mdn", "nce"],
                        choices=list(LABELS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--feature-extractor", default="auto")
    parser.add_argument("--diagnose", action="store_true")
    parser.add_argument("--window", type=float, default=0.25)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--from-results", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.from_results:
        run(args)
    records = [r for r in read_results(args.results)
               if r["n_train"] == args.n_train and r["image_size"] == args.image_size]
    print(f"\nmachine: {machine()}")
    print(f"data: {args.n_train} training images, {args.image_size}x{args.image_size}\n")
    print(summary_table(records))
    if any(r["kind"] == "diagnosis" for r in records):
        print(f"\ndiagnosis (angle task, symmetric held-out rows, window {args.window}):\n")
        print(diagnosis_table(records))


if __name__ == "__main__":
    main()
