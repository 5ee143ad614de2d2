"""Held-out calibration before and after ``RecalibratedRegressor``.

Two stages, so that the recalibration can be compared in several variants on
the same fitted models:

1. ``fit`` (the default): for each data set and split, fits the model on all
   training rows (the "raw" model) and one clone per fold of a shuffled
   ``KFold(--cv)``, exactly as ``RecalibratedRegressor`` does, and saves per
   split: the cross-fitted PIT values of the training rows and their fold, and
   the test CDF values (and log-densities) of the raw model and of every fold
   model, and the raw model's PIT on its own early-stopping rows
   (``validation_indices_``; ``val_cdf``). Resumes: a split whose file exists
   is not refitted. ``--add-validation`` adds ``val_cdf`` to splits saved
   before it existed, by refitting their raw model (which must reproduce the
   saved test CDF to 1e-9).
2. ``--from-results`` only tabulates saved splits. The recalibrated
   distributions are built from the saved values with the library's own
   :class:`~skebm.calibration.CalibrationMap`: ``ensemble=False`` (variant
   ``refit``) gives CDF ``R(F(y))`` and log-density ``log R'(F(y)) + log
   f(y)`` with the raw model and one map fitted on all cross-fitted PIT
   values together with the raw model's PIT on its own early-stopping rows,
   as the library does; ``refit-fold-pit`` is the map on the cross-fitted
   values alone (without the raw model's own rows); ``ensemble=True`` gives the
   equal-weight mixture ``mean_k R_k(F_k(y))`` of the fold models, each with
   the map fitted on its own held-out PIT values. ``--member-spread`` adds,
   per data set, how much one fit's calibration varies: the fold models scored
   one at a time (variant ``member-k``: fold model ``k`` with
   ``refit-fold-pit``'s map), their mean coverage and the standard deviation
   between the fold models of one split, beside the default's standard
   deviation between splits. ``--verify NAME`` refits
   split 0 of one data set through ``RecalibratedRegressor`` itself and checks
   that it gives the same test PIT values.

Several fits per model (``RecalibratedRegressor(n_fits=2)``): ``--fit 1`` in
stage 1 fits every model of each split once more (the raw model and every
fold model, same rows, folds and dequantised targets) with the
``random_state`` the library gives a model's second fit, and saves the same
values under ``RESULTS/fit1``. Stage 2's variant ``two-fits`` then takes
each model as the equal mixture of its two fits: the map is fitted on the
fold mixtures' held-out PIT values (intervals for integers) and applied to
the mixture of the two raw fits; ``two-fits-no-map`` is that mixture
without a map. Only splits with both fits are tabulated when either variant
is asked for. The reconstruction leaves out what the library adds to the
map, the PIT of the final mixture on the rows that both final fits held out
for early stopping (about 1 % of the rows); where ``fit1`` is saved,
``--verify`` shows the difference that makes, and that the reconstruction
with those rows added is the library's.

With ``--quantiles``, stage 1 also saves every model's test quantiles at the
399 levels 0.0025, 0.005, ..., 0.9975, and stage 2 can tabulate the variant
``quantile-average``: the fold models, each recalibrated by its own map,
combined by averaging their quantile functions (Vincentization) instead of
their CDFs, ``Q(p) = mean_k Q_k(R_k^{-1}(p))``. It is computed from the saved
grid (monotone cubic interpolation between levels; the test PIT is read off ``Q`` on
1597 levels and the density from its slope there; a test target beyond the
grid's 0.25 % tails has no density, and then every variant's NLL is the mean
over the rows where all tabulated variants have one, with their number
shown; where a map sends a level beyond the saved ones, that member's
quantile is held at its end level, which narrows the outer tails), so it is
approximate (for normal members:
PIT within 2e-4, log-density within 0.001 nats up to 2 standard deviations
and 0.01 at 2.5, ``tests/test_calibration_benchmark.py``), and
continuous targets only; it is not (yet) what the library offers. Averaging
makes the centre more accurate than each member's, so the average of
calibrated members is too wide; ``quantile-average-adjusted`` narrows it
about its median by ``lambda = sqrt(1 - (1 - 1/K) S^2 / V)`` per row (at
least 1/2), where ``S^2`` is the variance of the K members' medians and ``V``
the average's variance on the grid: if each member's error is a shared part
plus an independent part of variance ``tau^2``, averaging removes
``(1 - 1/K) tau^2`` of the error variance, and ``S^2`` estimates ``tau^2``.
Nothing is fitted to the test rows.

Measured on the test rows, pooled over the splits: coverage of the central
50/80/90/95% intervals (from the PIT values: ``y`` lies in the central ``c``
interval exactly when ``|F(y) - 1/2| <= c/2``), the calibration error (mean
absolute deviation of the empirical PIT CDF from uniform) and the test NLL.
A level outside the tolerance is listed with the standard error of its
pooled coverage, the splits taken as independent clusters (so it includes
the fits' variation from split to split, not only the test targets').

Data sets: the toy problems of ``skebm.datasets`` (fresh train/test draws per
split), small blob-count images (``make_blob_images``), and the UCI sets in
``../shared/data/uci`` (their standard splits 0..k-1; skipped when absent).
wine-quality-red has integer targets and is run as
``RecalibratedRegressor(discrete=True)`` runs it: the training integers ``k``
are dequantised once per split, ``k + U(-0.5, 0.5)`` with the ``n``
draws of ``np.random.default_rng(seed).uniform(-0.5, 0.5, n)``,
``seed = check_random_state(split).randint(2**31 - 1)`` (the regressor's
seed for the wrapped ``EnergyRegressor(random_state=split)``; ``uci.py``
draws its noise from ``default_rng(1000 + split)`` instead, so the raw fits
differ from that benchmark's by the noise draw); the raw and fold models are
fitted on those targets; stage 1 saves the fold models' held-out PIT
intervals ``[F(k - 0.5), F(k + 0.5)]`` and the maps are fitted to them
(``CalibrationMap.from_intervals``). The test integers are scored by the
randomised PIT (Czado, Gneiting and Held 2009)
``F(k - 0.5) + V (F(k + 0.5) - F(k - 0.5))``, ``V`` from
``default_rng(2000 + split)``, which is uniform exactly when the
probabilities of the integers are calibrated, and by the discrete NLL
``-log P(k - 0.5 < Y <= k + 0.5)``. ``--continuous-map`` instead fits the
maps to the held-out randomised PIT values with the continuous
``CalibrationMap`` (for comparison; not what the library does).

Acceptance: after recalibration every level within +-3 points,
test NLL not worse than raw by more than 0.02 nats.

Run (from ``benchmarks/``): ``python calibration.py --datasets yacht:20
kin8nm:3 ... [--cv 10] [--results results/calibration]``, then
``python calibration.py --from-results [--results results/calibration]``
(``name:k`` runs splits 0..k-1 of that data set).
"""

from __future__ import annotations

import argparse
import time
from functools import reduce
from pathlib import Path

import numpy as np
import torch
from _common import SHARED_DATA, machine, print_table
from scipy.interpolate import PchipInterpolator
from sklearn.model_selection import KFold

import skebm
from skebm.calibration import CalibrationMap, RecalibratedRegressor, calibration_error, pit
from skebm.calibration._discrete import dequantise, pit_intervals, randomised_pit
from skebm.calibration._fitting import _early_stopping_rows
from skebm.datasets import make_blob_images, make_brando2019, make_gustafsson2020
from skebm.ensemble import member_random_state, member_seed, predict_mixture

LEVELS = (0.5, 0.8, 0.9, 0.95)
QUANTILE_LEVELS = np.linspace(0.0025, 0.9975, 399)
TOLERANCE = 0.03
NLL_TOLERANCE = 0.02
UCI = ["concrete", "energy", "kin8nm", "power-plant", "wine-quality-red", "yacht"]
DISCRETE = {"wine-quality-red"}
TOY = {
    "gustafsson2020": (make_gustafsson2020, 2000, 2000),
    "brando2019": (make_brando2019, 1900, 1900),
    "blobs": (lambda n, random_state: make_blob_images(n, random_state=random_state), 600, 600),
}
ORDER = ["yacht", "concrete", "energy", "wine-quality-red", "kin8nm", "power-plant",
         "gustafsson2020", "brando2019", "blobs"]


def load_split(name: str, split: int):
    """``(X_train, y_train, X_test, y_test)`` of one split of a data set."""
    if name in TOY:
        make, n_train, n_test = TOY[name]
        X, y = make(n_train + n_test, random_state=1000 + split)
        return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    folder = SHARED_DATA / "uci" / name
    data = np.loadtxt(folder / "data.txt")
    features = np.loadtxt(folder / "index_features.txt", dtype=int)
    target = int(np.loadtxt(folder / "index_target.txt"))
    train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=int)
    test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=int)
    X, y = data[:, features], data[:, target]
    return X[train], y[train], X[test], y[test]


def make_model(kind: str, seed: int):
    if kind == "energy":
        return skebm.EnergyRegressor(random_state=seed)
    return skebm.DistilledMDNRegressor(random_state=seed)


def test_points(name: str, y_test: np.ndarray) -> np.ndarray:
    """Where the test CDFs are needed: ``y`` ``(n, 1)``, or ``y -+ 0.5`` ``(n, 2)`` for integers."""
    if name in DISCRETE:
        return y_test[:, None] + np.array([-0.5, 0.5])
    return y_test[:, None]


# ------------------------------------------------------------------ stage 1
def fit_split(name: str, split: int, args) -> dict:
    """The raw model, the fold models and their PIT/CDF values on one split."""
    X, y, X_test, y_test = load_split(name, split)
    start = time.perf_counter()
    discrete = name in DISCRETE
    # Integers: dequantised as RecalibratedRegressor(discrete=True) does, same seed.
    seed = member_seed(make_model(args.model, split))
    fit_targets, uniforms = dequantise(y, seed) if discrete else (y, None)
    # Fit number f >= 1 of every model: the random_state RecalibratedRegressor(n_fits) gives it.
    model_seed = member_random_state(seed, args.fit) if args.fit else split
    models = [make_model(args.model, model_seed).fit(X, fit_targets)]
    train_cdf, train_fold = np.empty((len(y), 2)), np.empty(len(y), dtype=int)
    folds = KFold(args.cv, shuffle=True, random_state=split)
    for k, (train, held_out) in enumerate(folds.split(X, y)):
        fold_model = make_model(args.model, model_seed).fit(X[train], fit_targets[train])
        if discrete:
            bounds = pit_intervals(fold_model.predict_dist(X[held_out]), y[held_out])
            train_cdf[held_out] = np.stack(bounds, axis=1)
        else:
            train_cdf[held_out] = pit(y[held_out], fold_model.predict_dist(X[held_out]))[:, None]
        train_fold[held_out] = k
        models.append(fold_model)
    train_pit = (randomised_pit(train_cdf[:, 0], train_cdf[:, 1], uniforms) if discrete
                 else train_cdf[:, 0])
    points = test_points(name, y_test)
    dists = [model.predict_dist(X_test) for model in models]
    test_cdf = np.stack([dist.cdf(points) for dist in dists])  # (1 + K, n, P)
    test_logpdf = np.stack([dist.logpdf(y_test) for dist in dists])  # (1 + K, n)
    saved = dict(y_test=y_test, train_pit=train_pit, train_fold=train_fold, test_cdf=test_cdf,
                 test_logpdf=test_logpdf)
    if args.quantiles:  # (1 + K, n, levels)
        saved["test_ppf"] = np.stack([np.stack([dist.ppf(level) for level in QUANTILE_LEVELS],
                                               axis=1) for dist in dists])
    saved["fit_seconds"] = time.perf_counter() - start
    if discrete:
        saved["train_cdf"] = train_cdf  # the held-out PIT intervals, (n, 2)
    saved["val_cdf"] = own_rows_cdf(models[0], X, y, discrete)
    return saved


def validation_cdf(dist, y_rows, discrete: bool) -> np.ndarray:
    """PIT intervals ``(m, 2)`` of held-out rows' targets under their distributions ``dist``.

    Continuous targets: both columns hold ``F(y)``. On the raw model's own
    early-stopping rows (``validation_indices_``) these are what
    ``RecalibratedRegressor`` adds to the cross-fitted PIT values.
    """
    if discrete:
        return np.stack(pit_intervals(dist, y_rows), axis=1)
    return np.repeat(pit(y_rows, dist)[:, None], 2, axis=1)


def own_rows_cdf(model, X, y, discrete: bool) -> np.ndarray:
    """The raw model's :func:`validation_cdf` on its own early-stopping rows."""
    rows = model.validation_indices_
    return validation_cdf(model.predict_dist(X[rows]), y[rows], discrete)


def add_validation(name: str, split: int, path: Path, args) -> None:
    """Add ``val_cdf`` to a split saved before it existed, by refitting its raw model.

    The refit uses the same seed and data; it must reproduce the saved test
    CDF (to 1e-9), or nothing is written.
    """
    saved = dict(np.load(path))
    X, y, X_test, y_test = load_split(name, split)
    discrete = name in DISCRETE
    seed = member_seed(make_model(args.model, split))
    fit_targets = dequantise(y, seed)[0] if discrete else y
    model = make_model(args.model, split).fit(X, fit_targets)
    difference = np.max(np.abs(model.predict_dist(X_test).cdf(test_points(name, y_test))
                               - saved["test_cdf"][0]))
    if difference > 1e-9:
        raise RuntimeError(f"{name} split {split}: the refit differs from the saved raw model "
                           f"(max test CDF difference {difference:.2e}); val_cdf not added")
    saved["val_cdf"] = own_rows_cdf(model, X, y, discrete)
    np.savez(path, **saved)
    print(f"{name} split {split}: val_cdf added ({len(saved['val_cdf'])} rows; refit reproduced "
          f"the saved test CDF to {difference:.1e})", flush=True)


# ------------------------------------------------------------------ stage 2
def recalibrated_values(saved, variant: str, n_knots="auto", continuous_map=False):
    """Test CDF ``(n, P)`` and log-density ``(n,)`` of one variant from the saved values."""
    cdf, logpdf = saved["test_cdf"], saved["test_logpdf"]
    if variant == "raw":
        return cdf[0], logpdf[0]
    if variant.startswith("two-fits"):  # RecalibratedRegressor(n_fits=2), from fits 0 and 1
        if "fit1_test_cdf" not in saved:
            raise ValueError(f"{variant} needs fit 1 of every model: run stage 1 with --fit 1")
        if continuous_map and "train_cdf" in saved:
            raise ValueError("--continuous-map has no randomised PIT of the mixtures")
        mixture = dict(  # every model: the equal mixture of its two fits
            train_pit=(saved["train_pit"] + saved["fit1_train_pit"]) / 2,
            test_cdf=(cdf + saved["fit1_test_cdf"]) / 2,
            test_logpdf=np.logaddexp(logpdf, saved["fit1_test_logpdf"]) - np.log(2))
        if "train_cdf" in saved:
            mixture["train_cdf"] = (saved["train_cdf"] + saved["fit1_train_cdf"]) / 2
        if "mixture_val_cdf" in saved:  # only --verify has the rows both final fits held out
            mixture["val_cdf"] = saved["mixture_val_cdf"]
        mapped = "refit" if "val_cdf" in mixture else "refit-fold-pit"
        return recalibrated_values(mixture, "raw" if variant == "two-fits-no-map" else mapped,
                                   n_knots, continuous_map)
    if variant == "fold-mixture":  # the fold models averaged, no map
        return cdf[1:].mean(axis=0), np.log(np.mean(np.exp(logpdf[1:]), axis=0))

    def fitted_map(rows, own_rows=False):
        # own_rows: add the raw model's PIT on its own early-stopping rows.
        extra = saved["val_cdf"] if own_rows else np.empty((0, 2))
        if "train_cdf" in saved and not continuous_map:  # integers: the held-out PIT intervals
            lower = np.concatenate([saved["train_cdf"][rows, 0], extra[:, 0]])
            upper = np.concatenate([saved["train_cdf"][rows, 1], extra[:, 1]])
            return CalibrationMap.from_intervals(lower, upper, _knots(n_knots, lower))
        if continuous_map and own_rows and "train_cdf" in saved:
            raise ValueError("--continuous-map on integer targets has no randomised PIT of the "
                             "early-stopping rows; use --variants raw refit-fold-pit ensemble")
        values = np.concatenate([saved["train_pit"][rows], extra[:, 0]])
        return CalibrationMap(values, _knots(n_knots, values))

    if variant.startswith("quantile-average"):
        return _quantile_average(saved, [fitted_map(saved["train_fold"] == k)
                                         for k in range(len(cdf) - 1)],
                                 adjusted=variant.endswith("adjusted"))
    if variant in ("refit", "refit-fold-pit"):
        if variant == "refit" and "val_cdf" not in saved:
            raise ValueError("refit needs val_cdf: run --add-validation on these results")
        pairs = [(0, fitted_map(np.arange(len(saved["train_pit"])), variant == "refit"))]
    elif variant == "ensemble":
        pairs = [(1 + k, fitted_map(saved["train_fold"] == k)) for k in range(len(cdf) - 1)]
    elif variant.startswith("member-"):  # fold model k alone, with refit-fold-pit's map
        member = 1 + int(variant[len("member-"):])
        pairs = [(member, fitted_map(np.arange(len(saved["train_pit"]))))]
    else:
        raise ValueError(variant)
    mapped = [calibration(cdf[i]) for i, calibration in pairs]
    if cdf.shape[-1] == 2:  # integers: scored by the CDF at k -+ 0.5, no log-density needed
        return np.mean(mapped, axis=0), np.full(cdf.shape[1], np.nan)
    log_densities = [calibration.log_derivative(cdf[i][:, 0]) + logpdf[i]
                     for i, calibration in pairs]
    top = np.max(log_densities, axis=0)
    mixed_logpdf = top + np.log(np.mean(np.exp(np.array(log_densities) - top), axis=0))
    return np.mean(mapped, axis=0), mixed_logpdf


def _quantile_average(saved, maps, adjusted=False):
    """Test PIT ``(n, 1)`` and log-density of the recalibrated fold models' quantile average."""
    if "test_ppf" not in saved or "train_cdf" in saved:
        raise ValueError("quantile-average needs continuous targets fitted with --quantiles")
    levels = np.linspace(QUANTILE_LEVELS[0], QUANTILE_LEVELS[-1], 1597)
    quantiles = saved["test_ppf"][1:]  # the fold models, (K, n, L)
    members = []  # each fold model's recalibrated quantiles, (n, levels)
    for calibration, member in zip(maps, quantiles):
        base_levels = np.clip(calibration.inverse(levels), QUANTILE_LEVELS[0], QUANTILE_LEVELS[-1])
        members.append(PchipInterpolator(QUANTILE_LEVELS, member, axis=1)(base_levels))
    members = np.array(members)
    average = members.mean(axis=0)
    if adjusted:
        middle = len(levels) // 2  # the level 0.5
        spread = members[:, :, middle].var(axis=0, ddof=1)
        variance = average.var(axis=1)
        factor = np.sqrt(np.maximum(1.0 - (1.0 - 1.0 / len(maps)) * spread / variance, 0.25))
        median = average[:, middle:middle + 1]
        average = median + factor[:, None] * (average - median)
    y = saved["y_test"]
    pit_values = np.array([np.interp(value, row, levels) for value, row in zip(y, average)])
    slope = np.diff(levels) / np.maximum(np.diff(average, axis=1), 1e-300)
    middles = 0.5 * (average[:, 1:] + average[:, :-1])
    # Beyond the grid's ends (0.25 % of the mass each side) the density is unknown: NaN.
    density = np.array([np.interp(value, mid, row, left=np.nan, right=np.nan)
                        for value, mid, row in zip(y, middles, slope)])
    return pit_values[:, None], np.log(np.maximum(density, 1e-300))


def _knots(n_knots, values):
    if n_knots == "cube-root":  # the rule before the cross-validated "auto"
        return int(np.clip(round(len(values) ** (1 / 3)), 4, 30))
    return n_knots if n_knots == "auto" else int(n_knots)


def test_pit_and_nll(name: str, split: int, y_test, cdf, logpdf):
    """PIT values (randomised for integer targets) and per-row NLL."""
    if name in DISCRETE:
        low, high = cdf[:, 0], cdf[:, 1]
        uniforms = np.random.default_rng(2000 + split).random(len(y_test))
        return randomised_pit(low, high, uniforms), -np.log(np.maximum(high - low, 1e-300))
    return np.clip(cdf[:, 0], 0.0, 1.0), -logpdf


def load_saved(path: Path) -> dict:
    """One split's saved values, with fit 1's (``fit1/``, keys prefixed ``fit1_``) if saved."""
    saved = dict(np.load(path))
    second = path.parent / "fit1" / path.name
    if second.exists():
        saved.update({f"fit1_{key}": value for key, value in np.load(second).items()})
    return saved


def summarise(name: str, files: list[Path], variant: str, n_knots="auto",
              continuous_map=False) -> dict:
    pits, nlls = [], []
    for path in files:
        saved = load_saved(path)
        split = int(path.stem.rsplit("_", 1)[1])
        cdf, logpdf = recalibrated_values(saved, variant, n_knots, continuous_map)
        values, nll = test_pit_and_nll(name, split, saved["y_test"], cdf, logpdf)
        pits.append(values)
        nlls.append(nll)
    per_split = [_coverage(values) for values in pits]
    pits, nlls = np.concatenate(pits), np.concatenate(nlls)
    return dict(n_test=len(pits), coverage=_coverage(pits), ce=calibration_error(pits),
                nll_rows=nlls, coverage_se=_pooled_standard_error(per_split))


def member_spread(name: str, files: list[Path], n_knots="auto",
                  continuous_map=False) -> tuple[np.ndarray, np.ndarray]:
    """How much one fit's calibration varies: the fold models one at a time.

    Each fold model gets the map of all cross-fitted PIT values (variant
    ``member-k``) and is scored on the test rows. Returns the coverage at
    ``LEVELS`` averaged over the models and splits, and the standard
    deviation between the fold models of one split (same data, same test
    rows), averaged over the splits.
    """
    coverages = []  # (splits, K, levels)
    for path in files:
        saved = dict(np.load(path))
        split = int(path.stem.rsplit("_", 1)[1])
        coverages.append([
            _coverage(test_pit_and_nll(name, split, saved["y_test"],
                                       *recalibrated_values(saved, f"member-{k}", n_knots,
                                                            continuous_map))[0])
            for k in range(len(saved["test_cdf"]) - 1)])
    coverages = np.array(coverages)
    return coverages.mean(axis=(0, 1)), coverages.std(axis=1, ddof=1).mean(axis=0)


def _coverage(pits: np.ndarray) -> list[float]:
    """Share of PIT values inside each central interval of ``LEVELS``."""
    return [float(np.mean(np.abs(pits - 0.5) <= level / 2)) for level in LEVELS]


def _pooled_standard_error(per_split: list[list[float]]) -> np.ndarray:
    """Standard error of each pooled coverage, with the splits as independent clusters.

    The splits hold equally many test rows (within a data set), so the pooled
    coverage is the mean of the per-split ones and its standard error is
    theirs: it counts the variation of the fits from split to split as well
    as the test targets' own. NaN with one split.
    """
    values = np.array(per_split)
    if len(values) < 2:
        return np.full(len(LEVELS), np.nan)
    return values.std(axis=0, ddof=1) / np.sqrt(len(values))


def tabulate(args) -> None:
    results = Path(args.results)
    rows, verdicts = [], []
    for name in ORDER:
        files = sorted(results.glob(f"{name}_*.npz"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
        if any(variant.startswith("two-fits") for variant in args.variants):
            files = [path for path in files if (path.parent / "fit1" / path.name).exists()]
        if not files:
            continue
        label = name + (" (discrete)" if name in DISCRETE else "")
        summaries = {variant: summarise(name, files, variant, args.n_knots, args.continuous_map)
                     for variant in args.variants}
        # Rows where every variant has a log-density (the quantile averages' grids end).
        common = np.all([np.isfinite(summary["nll_rows"]) for summary in summaries.values()],
                        axis=0)
        subset = "" if common.all() else f" ({common.sum()} of {common.size} rows)"
        for variant, summary in summaries.items():
            rows.append([label, variant, len(files), summary["n_test"],
                         *[f"{c:.3f}" for c in summary["coverage"]],
                         f"{summary['ce']:.4f}",
                         f"{np.mean(summary['nll_rows'][common]):.3f}{subset}"])
        for variant in args.variants:
            if variant in ("raw", "fold-mixture"):
                continue
            after, before = summaries[variant], summaries["raw"]
            off = [f"{lv:.0%} ({c:.3f} +- {se:.3f} SE over splits)"
                   for lv, c, se in zip(LEVELS, after["coverage"], after["coverage_se"])
                   if abs(c - lv) > TOLERANCE + 1e-9]
            change = (after["nll_rows"] - before["nll_rows"])[common]
            verdicts.append(
                f"{name} {variant}: levels off {off or 'none'}, NLL change "
                f"{change.mean():+.3f} +- {change.std(ddof=1) / np.sqrt(len(change)):.3f} (SE)"
                f"{subset}")
    print_table(["data set", "model", "splits", "n test", *[f"cov {lv:.0%}" for lv in LEVELS],
                 "calib. error", "test NLL"], rows)
    print()
    for line in verdicts:
        print(line)
    if args.member_spread:
        print()
        for name in ORDER:
            files = sorted(results.glob(f"{name}_*.npz"))
            if not files:
                continue
            mean, spread = member_spread(name, files, args.n_knots, args.continuous_map)
            final = summarise(name, files, "refit", args.n_knots, args.continuous_map)
            between_splits = final["coverage_se"] * np.sqrt(len(files))
            print(f"{name}: fold models one at a time, coverage {np.round(mean, 3).tolist()}, "
                  f"SD between the fold models of one split {np.round(spread, 3).tolist()}; "
                  f"the default's SD between splits {np.round(between_splits, 3).tolist()}")


def verify(name: str, args) -> None:
    """Split 0 of one data set through RecalibratedRegressor: same PIT as the saved values?

    With ``n_fits=2`` the comparison is made twice: as tabulated, and with
    the PIT of the library's final mixture on the rows both its final fits
    held out, which the saved values lack, added to the map.
    """
    X, y, X_test, y_test = load_split(name, 0)
    saved = load_saved(Path(args.results) / f"{name}_0.npz")
    points = test_points(name, y_test)
    discrete = name in DISCRETE
    settings = [(False, 1, "refit"), (True, 1, "ensemble")]
    if "fit1_test_cdf" in saved:
        settings.append((False, 2, "two-fits"))
    for ensemble, n_fits, variant in settings:
        model = RecalibratedRegressor(make_model(args.model, 0), ensemble=ensemble,
                                      discrete=discrete, n_fits=n_fits,
                                      cv=KFold(args.cv, shuffle=True, random_state=0)).fit(X, y)
        dist = model.predict_dist(X_test)
        model_cdf = dist.cdf(points)
        if discrete:  # the saved values are the CDF at k -+ 0.5; compare log P(Y = k)
            model_logpdf = np.log(np.diff(model_cdf, axis=1)[:, 0])
        else:
            model_logpdf = dist.logpdf(y_test)
        reconstructions = [("", saved)]
        if n_fits == 2:
            rows = reduce(np.intersect1d, [_early_stopping_rows(fit) for fit in model.fits_[0]])
            own = validation_cdf(predict_mixture(model.fits_[0], X[rows]), y[rows], discrete)
            reconstructions = [(" (as tabulated)", saved),
                               (f" (with the {len(rows)} rows both final fits held out)",
                                {**saved, "mixture_val_cdf": own})]
        for label, values in reconstructions:
            cdf, logpdf = recalibrated_values(values, variant)
            if discrete:
                logpdf = np.log(cdf[:, 1] - cdf[:, 0])
            print(f"{name} split 0, ensemble={ensemble}, n_fits={n_fits}{label}: max |CDF "
                  f"difference| {np.max(np.abs(model_cdf - cdf)):.2e}, max |log-likelihood "
                  f"difference| {np.max(np.abs(model_logpdf - logpdf)):.2e}, mean "
                  f"log-likelihood difference {np.mean(model_logpdf - logpdf):+.2e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cv", type=int, default=10, help="folds (default: the library's, 10)")
    parser.add_argument("--model", choices=["energy", "distilled"], default="energy")
    parser.add_argument("--datasets", nargs="+", default=[f"{name}:3" for name in ORDER])
    parser.add_argument("--results", default=str(Path(__file__).parent / "results" / "calibration"))
    parser.add_argument("--from-results", action="store_true")
    parser.add_argument("--variants", nargs="+", default=["raw", "refit", "ensemble"])
    parser.add_argument("--verify", default=None)
    parser.add_argument("--add-validation", action="store_true",
                        help="add val_cdf to the saved splits of --datasets that lack it")
    parser.add_argument("--n-knots", default="auto",
                        help='the maps\' n_knots: "auto", an int, or "cube-root" (the old rule)')
    parser.add_argument("--continuous-map", action="store_true",
                        help="integer targets: fit the continuous map to randomised PIT values")
    parser.add_argument("--quantiles", action="store_true",
                        help="stage 1: also save the test quantiles (for quantile-average)")
    parser.add_argument("--member-spread", action="store_true",
                        help="with --from-results: how one fit's calibration varies (the fold "
                             "models one at a time, with the map of all cross-fitted PIT values)")
    parser.add_argument("--fit", type=int, default=0,
                        help="stage 1: fit number F >= 1 of every model, as "
                             "RecalibratedRegressor(n_fits > F) seeds it, saved under "
                             "RESULTS/fitF (same rows, folds and dequantisation)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_results:
        tabulate(args)
        return
    if args.verify:
        verify(args.verify, args)
        return
    print(f"machine: {machine()}")
    print(f"model: {args.model}, cv={args.cv} (shuffled KFold)", flush=True)
    results = Path(args.results) / (f"fit{args.fit}" if args.fit else "")
    results.mkdir(parents=True, exist_ok=True)
    for entry in args.datasets:
        name, _, count = entry.partition(":")
        if name in UCI and not (SHARED_DATA / "uci" / name).exists():
            print(f"skipping {name}: not found under {SHARED_DATA / 'uci'}")
            continue
        for split in range(int(count) if count else 3):
            path = results / f"{name}_{split}.npz"
            if args.add_validation:
                if path.exists() and path.stat().st_size and "val_cdf" not in np.load(path):
                    add_validation(name, split, path, args)
                continue
            if path.exists():
                continue
            saved = fit_split(name, split, args)
            np.savez(path, **saved)
            print(f"{name} split {split}: {saved['fit_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
