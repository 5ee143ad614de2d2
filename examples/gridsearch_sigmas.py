"""Choose the noise widths of the NCE baseline with GridSearchCV, by likelihood
============================================================================

``EnergyRegressor(noise="gaussian")`` is the earlier NCE baseline: its noise is
``q(y | y_i) = (1/K) sum_k N(y; y_i, sigma_k^2)`` with fixed ``sigmas`` that must
be tuned per task. ``EnergyRegressor.score`` is the mean held-out conditional
log-likelihood, so a plain ``GridSearchCV`` selects the sigmas that model the
data best. The script then compares the selected baseline with the learned
proposal (``noise="mdn"``, the paper's method), which needs no such tuning,
by the KL divergence to the true density of the toy problem.

Run::

    python examples/gridsearch_sigmas.py [--fast]

``--fast`` (or ``SKEBM_EXAMPLE_FAST=1``) uses tiny settings for a smoke test.
"""

from __future__ import annotations

import argparse
import os
import time

from sklearn.model_selection import GridSearchCV, KFold

from skebm import EnergyRegressor
from skebm.datasets import make_gustafsson2020
from skebm.metrics import gustafsson2020_kl

# The paper's sigma_1 in {0.05, 0.1, 0.2} with sigma_2 = 8 sigma_1, in units of y.
SIGMA_GRID = [(0.05, 0.4), (0.1, 0.8), (0.2, 1.6)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.fast:
        n_samples, n_folds, n_grid = 300, 2, 128
        settings = dict(max_epochs=2, n_noise_samples=16, hidden_size=16, n_inference_samples=64)
    else:  # shorter than the defaults, so that the 10 fits take a few minutes on a CPU
        n_samples, n_folds, n_grid = 2000, 3, 2048
        settings = dict(max_epochs=25, n_noise_samples=128)
    X, y = make_gustafsson2020(n_samples=n_samples, random_state=0)

    search = GridSearchCV(
        EnergyRegressor(noise="gaussian", random_state=0, **settings),
        param_grid={"sigmas": SIGMA_GRID},
        cv=KFold(n_folds, shuffle=True, random_state=0),
        # scoring=None: EnergyRegressor.score, the mean log-likelihood (higher is better)
    )
    start = time.perf_counter()
    search.fit(X, y)
    print(f"Grid search: {len(SIGMA_GRID)} candidates x {n_folds} folds "
          f"in {time.perf_counter() - start:.0f} s\n")
    print(f"{'sigmas':>12}  {'held-out log-likelihood':>24}  rank")
    results = search.cv_results_
    for sigmas, mean, std, rank in zip(results["param_sigmas"], results["mean_test_score"],
                                       results["std_test_score"], results["rank_test_score"]):
        print(f"{str(sigmas):>12}  {mean:>16.3f} +- {std:.3f}  {rank:>4}")
    print(f"\nSelected sigmas: {search.best_params_['sigmas']}")

    proposal = EnergyRegressor(noise="mdn", random_state=0, **settings).fit(X, y)
    baseline_kl = gustafsson2020_kl(search.best_estimator_, n_grid=n_grid)
    print("\nKL(p_true || p_model), lower is better:")
    print(f"  NCE baseline, selected sigmas : {baseline_kl:.4f}")
    print(f"  learned proposal (no tuning)  : {gustafsson2020_kl(proposal, n_grid=n_grid):.4f}")


if __name__ == "__main__":
    main()
