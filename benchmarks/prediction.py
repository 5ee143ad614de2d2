"""Prediction: time and error against a dense reference, now and with the old settings.

Default model on the first toy set (``toy_gustafsson2020_train.csv``), 2048
test rows from ``make_gustafsson2020(2048, random_state=1)``.

1-D target: ``predict`` (mean) and ``score`` times; errors of log Z, mean, std,
CDF and quantiles against a dense reference (the trapezoid rule on all 32769
points of the evaluator's fine grid, i.e. a 32768-interval grid over the whole
span, for every 8th row); the paper's KL; KS tests of 10^4 ``sample`` draws
against ``cdf``. "old" is the previous rule, reproduced here: the trapezoid
rule on a shared grid of 2048 points over the training range plus 2 x 256 tail
points (every row on every point).

2-D target (columns y and x): the RMS error over 16 seeds of log Z, mean and
std against a 256 x 256 grid quadrature per row (for 64 rows), for the
current randomised quasi-Monte Carlo draws (scrambled Sobol) and for plain
Monte Carlo draws as before, at several M; and the time of ``predict``.

Both models predict with the energy alone (``proposal_weight=0``), so that
the errors are those of the quadrature or importance sampling of exp f. The
cost of mixing in the proposal is timed separately: the same network (the
weight does not change training) predicting with ``proposal_weight=0.25``,
with the mixture's log normaliser, which should be 0, as its error.

First, the throughput of the current defaults: a default ``EnergyRegressor``
fitted on the toy set, ``predict`` of the 2048 rows with 1 and 2 torch
threads against the bare cost of the energy evaluations its quadrature
needs, measured in the same run (median of ``--repeats``).

Run: ``python benchmarks/prediction.py [--threads 2] [--rows 0] [--throughput-only]``
(``--rows N`` also predicts N rows with a 2-D target and reports peak memory).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch
from _common import load_toy, machine, print_table
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone

from skebm import EnergyRegressor
from skebm.datasets import gustafsson2020_log_density, make_gustafsson2020
from skebm.metrics import gustafsson2020_kl, kl_divergence_on_grid
from skebm.nn import mixture_log_prob
from skebm.nn.mixture import samples_from_base_draws


def median_time(call, repeats: int = 7) -> str:
    """Median wall-clock and CPU (process) seconds of ``call``, as ``"wall (cpu)"``.

    On a shared machine the wall time includes waiting for a core; the CPU
    time is the work itself.
    """
    wall, cpu = median_seconds(call, repeats)
    return f"{wall:.3f} ({cpu:.3f})"


def median_seconds(call, repeats: int = 7) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``call`` over ``repeats`` runs after a warm-up."""
    call()
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def throughput(X, y, X_test, repeats: int) -> None:
    """``predict`` of a default model against the bare energy evaluations it needs.

    The bare cost evaluates f, in one call per node set, at exactly the
    quadrature nodes ``predict`` ends with (plus the energy's own nodes when
    the fitted proposal weight is positive: its normaliser comes first),
    each row padded to the widest row's count.
    """
    model = EnergyRegressor(random_state=0).fit(X, y)  # the current defaults
    dist = model.predict_dist(X_test)
    evaluator, rows = dist._evaluator, np.arange(len(X_test))
    node_sets = [dist._nodes(rows).index]
    if dist.proposal_weight:
        node_sets.append(dist._nodes(rows, energy_only=True).index)
    pairs = sum(int((np.diff(index, axis=1) > 0).sum() + len(index)) for index in node_sets)

    def bare():
        for index in node_sets:
            evaluator.log_unnormalized(rows, grid_nodes=index)

    table = []
    for threads in (1, 2):
        model.n_threads_ = threads  # the fitted thread count predict uses
        torch.set_num_threads(threads)
        predict_wall, predict_cpu = median_seconds(lambda: model.predict(X_test), repeats)
        bare_wall, bare_cpu = median_seconds(bare, repeats)
        table.append([threads, pairs / len(rows), f"{predict_wall:.3f} ({predict_cpu:.3f})",
                      f"{bare_wall:.3f} ({bare_cpu:.3f})", predict_wall / bare_wall,
                      predict_cpu / bare_cpu])
    print(f"\nDefault EnergyRegressor (proposal_weight_={model.proposal_weight_:.3g}, "
          f"background_weight_={model.background_weight_:.2g}), predict of {len(rows)} rows "
          f"against the bare energy evaluations, median of {repeats}\n")
    print_table(["threads", "evaluations per row", "predict: wall s (cpu s)",
                 "bare energy: wall s (cpu s)", "ratio (wall)", "ratio (cpu)"], table)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- 1-D
def old_grid(evaluator) -> np.ndarray:
    """The previous shared 1-D grid: 2048 core points and 256 coarse points per tail."""
    low, high = evaluator.grid_bounds
    reach = max(abs(low), abs(high)) + 6.0 * evaluator.base_std
    standard = np.concatenate([np.linspace(-reach, low, 256, endpoint=False),
                               np.linspace(low, high, 2048),
                               np.linspace(high, reach, 257)[1:]])
    return standard * evaluator.target_scale[0] + evaluator.target_mean[0]


def grid_summary(evaluator, rows, grid, chunk=16):
    """Trapezoid log Z, mean, std and cumulative of every row on a shared grid."""
    weights = np.zeros(grid.size)
    weights[:-1] += 0.5 * np.diff(grid)
    weights[1:] += 0.5 * np.diff(grid)
    out = []
    for start in range(0, len(rows), chunk):
        log_f = evaluator.log_unnormalized(rows[start:start + chunk], grid.reshape(1, -1, 1))
        log_z = logsumexp(log_f + np.log(weights), axis=1)
        density = np.exp(log_f - log_z[:, None])
        p = density * weights
        mean = p @ grid
        std = np.sqrt(np.einsum("rk,rk->r", p, (grid[None] - mean[:, None]) ** 2))
        pieces = 0.5 * (density[:, 1:] + density[:, :-1]) * np.diff(grid)
        cumulative = np.concatenate([np.zeros((len(p), 1)), np.cumsum(pieces, 1)], 1)
        out.append((log_z, mean, std, cumulative / cumulative[:, -1:]))
    return [np.concatenate(part) for part in zip(*out)]


def grid_ppf(grid, cumulative, q):
    return np.array([np.interp(q, c, grid) for c in cumulative])


def one_d(model, X_test, y_test) -> None:
    dist = model.predict_dist(X_test)
    evaluator = dist._evaluator
    rows = np.arange(0, len(X_test), 8)
    fine = evaluator.fine_grid()
    dense = fine.values(np.arange(fine.size))
    ref_log_z, ref_mean, ref_std, ref_cum = grid_summary(evaluator, rows, dense, chunk=4)
    old = old_grid(evaluator)
    old_log_z, old_mean, old_std, old_cum = grid_summary(evaluator, np.arange(len(X_test)), old)

    def old_predict():
        d = model.predict_dist(X_test)
        return grid_summary(d._evaluator, np.arange(len(X_test)), old)[1]

    def old_score():
        d = model.predict_dist(X_test)
        log_z = grid_summary(d._evaluator, np.arange(len(X_test)), old)[0]
        return np.mean(d._evaluator.log_unnormalized(np.arange(len(X_test)),
                                                     y_test.reshape(-1, 1, 1))[:, 0] - log_z)

    times = {
        "predict": (median_time(lambda: model.predict(X_test)), median_time(old_predict)),
        "score": (median_time(lambda: model.score(X_test, y_test)), median_time(old_score)),
    }
    sub = dist[rows]
    probe = sub.ppf(0.3)
    ref_cdf_probe = np.array([np.interp(p, dense, c) for p, c in zip(probe, ref_cum)])
    old_cdf_probe = np.array([np.interp(p, old, c) for p, c in zip(probe, old_cum[rows])])
    quantiles = (0.05, 0.5, 0.95)
    ref_ppf = [grid_ppf(dense, ref_cum, q) for q in quantiles]
    new_ppf_err = max(np.max(np.abs(sub.ppf(q) - r) / ref_std) for q, r in zip(quantiles, ref_ppf))
    old_ppf_err = max(np.max(np.abs(grid_ppf(old, old_cum[rows], q) - r) / ref_std)
                      for q, r in zip(quantiles, ref_ppf))
    nodes = sub._nodes(np.arange(len(rows)))
    n_nodes = np.mean([len(np.unique(r)) for r in nodes.index])
    table = []
    for name, new, before in [
        ("log Z, mean abs error (nats)", np.mean(np.abs(sub.log_normalizer() - ref_log_z)),
         np.mean(np.abs(old_log_z[rows] - ref_log_z))),
        ("log Z, max abs error (nats)", np.max(np.abs(sub.log_normalizer() - ref_log_z)),
         np.max(np.abs(old_log_z[rows] - ref_log_z))),
        ("mean, max abs error / std", np.max(np.abs(sub.mean() - ref_mean) / ref_std),
         np.max(np.abs(old_mean[rows] - ref_mean) / ref_std)),
        ("std, max relative error", np.max(np.abs(sub.std() / ref_std - 1)),
         np.max(np.abs(old_std[rows] / ref_std - 1))),
        ("cdf at the 0.3 quantile, max abs error", np.max(np.abs(sub.cdf(probe) - ref_cdf_probe)),
         np.max(np.abs(old_cdf_probe - ref_cdf_probe))),
        ("ppf(0.05, 0.5, 0.95), max abs error / std", new_ppf_err, old_ppf_err),
        ("energy evaluations per row", float(n_nodes), float(old.size)),
        ("predict (mean), 2048 rows, median wall s (cpu s)", *times["predict"]),
        ("score, 2048 rows, median wall s (cpu s)", *times["score"]),
    ]:
        table.append([name, new, before])
    x_grid = np.linspace(-3, 3, 2048)
    kl_new = gustafsson2020_kl(model)
    kl_dist = model.predict_dist(x_grid.reshape(-1, 1))
    y_grid = np.linspace(-3, 3, 2048)
    kl_evaluator = kl_dist._evaluator
    old_log_z_kl = grid_summary(kl_evaluator, np.arange(2048), old_grid(kl_evaluator))[0]
    log_f = kl_dist._evaluator.log_unnormalized(np.arange(2048), y_grid.reshape(1, -1, 1))
    kl_old = kl_divergence_on_grid(gustafsson2020_log_density(x_grid[:, None], y_grid[None]),
                                   log_f - old_log_z_kl[:, None], y_grid=y_grid)
    table.append(["toy KL (paper protocol)", kl_new, kl_old])
    print("\n1-D target, default model, 2048 test rows (errors on every 8th row vs the "
          "32768-interval dense grid)\n")
    print_table(["quantity", "now", "old (2048 + 512 grid)"], table)
    ks = []
    for x in (-2.0, -1.0, 1.0, 2.0):
        d = model.predict_dist(np.array([[x]]))
        draws = d.sample(10_000, random_state=0)[0]
        result = stats.kstest(draws, lambda v, d=d: d.cdf(np.reshape(v, (1, -1)))[0])
        ks.append([f"x = {x}", result.statistic, result.pvalue])
    print("\nKS test of 10^4 sample() draws against cdf (x < 0 is bimodal)\n")
    print_table(["row", "KS statistic", "p-value"], ks)


# ---------------------------------------------------------------- 2-D
def plain_draws(evaluator, rows, n_samples, seed):
    """The previous draws: stratified component choice, plain normal draws."""
    generator = torch.Generator().manual_seed(seed)
    strata = (torch.arange(n_samples) + torch.rand(n_samples, generator=generator)) / n_samples
    uniforms = strata[torch.randperm(n_samples, generator=generator)]
    normals = torch.randn(n_samples, evaluator.target_dim, generator=generator)
    with torch.inference_mode():
        mixture = evaluator._mixture_of(rows)
        samples = samples_from_base_draws(mixture, uniforms, normals)
        log_q = mixture_log_prob(mixture, samples)
    return evaluator._to_user(samples), log_q.double().numpy() - evaluator.log_jacobian


def importance_summary(evaluator, rows, draws):
    points, log_q = draws
    log_w = evaluator.log_unnormalized(rows, points) - log_q
    log_z = logsumexp(log_w, axis=1)
    w = np.exp(log_w - log_z[:, None])
    mean = np.einsum("rm,rmd->rd", w, points)
    std = np.sqrt(np.einsum("rm,rmd->rd", w, (points - mean[:, None]) ** 2))
    return log_z - np.log(points.shape[1]), mean, std


def reference_2d(evaluator, rows, size=256):
    log_w, means, stds = evaluator.proposal_components(rows)
    out = []
    for i, row in enumerate(rows):
        low = (means[i] - 8 * stds[i]).min(axis=0)
        high = (means[i] + 8 * stds[i]).max(axis=0)
        axes = [np.linspace(low[j], high[j], size) for j in range(2)]
        a, b = np.meshgrid(*axes, indexing="ij")
        points = np.stack([a.ravel(), b.ravel()], 1)[None]
        log_f = evaluator.log_unnormalized(np.array([row]), points)[0]
        cell = np.log((axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0]))
        log_z = logsumexp(log_f) + cell
        p = np.exp(log_f + cell - log_z)
        mean = p @ points[0]
        std = np.sqrt(p @ (points[0] - mean) ** 2)
        out.append((log_z, mean, std))
    return [np.array(part) for part in zip(*out)]


def two_d(model, X_test) -> None:
    dist = model.predict_dist(X_test)
    evaluator = dist._evaluator
    rows = np.arange(0, len(X_test), 32)
    ref = reference_2d(evaluator, rows)
    table = []
    for label, M, draw in [
        ("plain MC (old)", 1024, lambda s, M=1024: plain_draws(evaluator, rows, M, s)),
        ("plain MC", 256, lambda s: plain_draws(evaluator, rows, 256, s)),
        ("scrambled Sobol (now)", 256, lambda s: evaluator.proposal_draws(rows, 256, s)),
        ("scrambled Sobol", 128, lambda s: evaluator.proposal_draws(rows, 128, s)),
        ("scrambled Sobol", 1024, lambda s: evaluator.proposal_draws(rows, 1024, s)),
    ]:
        estimates = [importance_summary(evaluator, rows, draw(seed)) for seed in range(16)]
        errors = []
        for k in range(3):
            values = np.array([e[k] for e in estimates])
            errors.append(np.sqrt(np.mean((values - ref[k]) ** 2)))
        table.append([label, M, *errors])
    print("\n2-D target: RMS error over 16 seeds and 64 rows vs a 256 x 256 grid per row\n")
    print_table(["draws", "M", "log Z", "mean", "std"], table)

    def old_predict():
        d = model.predict_dist(X_test)
        return importance_summary(d._evaluator, np.arange(len(X_test)),
                                  plain_draws(d._evaluator, np.arange(len(X_test)), 1024, 0))[1]

    print("\n| 2-D target, 2048 rows | median wall s (cpu s) |\n|---|---|")
    print(f"| predict (mean), M = 256 Sobol (now) | {median_time(lambda: model.predict(X_test))} |")
    print(f"| predict (mean), M = 1024 plain MC (old) | {median_time(old_predict)} |")


def proposal_share(model, X, y, X_test, model_2d, Y) -> None:
    """Time and normaliser error of predicting with the proposal mixed in (weight 0.25)."""
    mixed = clone(model).set_params(proposal_weight=0.25).fit(X, y)
    mixed_2d = clone(model_2d).set_params(proposal_weight=0.25).fit(X[:1024], Y)
    rows = []
    for label, plain, share in [("1-D", model, mixed), ("2-D", model_2d, mixed_2d)]:
        times = [median_time(lambda m=m: m.predict(X_test)) for m in (plain, share)]
        ratio = float(times[1].split()[0]) / float(times[0].split()[0])
        log_z = np.abs(share.predict_dist(X_test)._summaries()[0]).max()
        rows.append([label, times[0], times[1], ratio, log_z])
    print("\nPredicting with the proposal mixed in (the same network), 2048 rows\n")
    print_table(["target", "predict, weight 0: median wall s (cpu s)", "weight 0.25",
                 "ratio of wall medians", "max abs log normaliser of the mixture"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--throughput-only", action="store_true",
                        help="only time predict against the bare energy evaluations")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    X, y = load_toy("gustafsson2020")
    X_test, y_test = make_gustafsson2020(2048, random_state=1)
    throughput(X, y, X_test, args.repeats)
    if args.throughput_only:
        return
    torch.set_num_threads(args.threads)
    model = EnergyRegressor(random_state=0, proposal_weight=0.0).fit(X, y)
    one_d(model, X_test, y_test)
    Y = np.column_stack([y[:1024], X[:1024, 0]])
    model_2d = EnergyRegressor(random_state=0, max_epochs=5, proposal_weight=0.0).fit(
        X[:1024], Y)
    two_d(model_2d, X_test)
    proposal_share(model, X, y, X_test, model_2d, Y)
    if args.rows:
        before = peak_rss_mb()
        big = np.random.default_rng(0).uniform(-3, 3, size=(args.rows, 1))
        start = time.perf_counter()
        model_2d.predict(big)
        print(f"\npredict on {args.rows} rows, 2-D target: {time.perf_counter() - start:.1f} s; "
              f"peak RSS {before:.0f} MB before, {peak_rss_mb():.0f} MB after")


if __name__ == "__main__":
    main()
