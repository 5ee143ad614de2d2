"""A cross-validation study on a dask cluster, through joblib's dask backend
=========================================================================

Compares the learned proposal (``noise="mdn"``, K = 1 and K = 4 mixture
components) with the NCE baseline (``noise="gaussian"``) on the four-regime toy
problem of Brando et al. (2019), by 5-fold cross-validated log-likelihood,
CRPS and 90%-interval coverage. Every fold of every model is one task on the
cluster: scikit-learn's ``cross_validate`` hands its ``n_jobs`` work to joblib,
and ``joblib.parallel_backend("dask")`` sends it to the dask workers.

Here the cluster is a ``LocalCluster`` of two single-threaded worker processes
on this machine. For a real cluster, connect the client to its scheduler
instead (``Client("tcp://scheduler-host:8786")``); the rest is unchanged.

Run::

    python examples/cross_validation_dask.py [--fast]

``--fast`` (or ``SKEBM_EXAMPLE_FAST=1``) uses tiny settings for a smoke test,
with the two workers as threads of this process (no start-up cost);
``tests/test_dask.py`` covers worker processes.
"""

from __future__ import annotations

import argparse
import os
import time

import joblib
from distributed import Client, LocalCluster
from sklearn.model_selection import KFold, cross_validate

from skebm import EnergyRegressor
from skebm.datasets import make_brando2019
from skebm.metrics import coverage_scorer, crps_scorer, nll_scorer

SCORING = {"log_likelihood": nll_scorer, "crps": crps_scorer, "coverage_90": coverage_scorer}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.fast:
        n_samples, n_folds = 200, 2
        settings = dict(max_epochs=2, n_noise_samples=16, hidden_size=16, n_inference_samples=64)
    else:  # the paper's 1900 training rows; fewer epochs than the defaults
        n_samples, n_folds = 1900, 5
        settings = dict(max_epochs=20, n_noise_samples=128)
    X, y = make_brando2019(n_samples=n_samples, random_state=0)
    models = {
        "proposal, K=1": EnergyRegressor(n_components=1, random_state=0, **settings),
        "proposal, K=4": EnergyRegressor(n_components=4, random_state=0, **settings),
        "NCE baseline": EnergyRegressor(noise="gaussian", random_state=0, **settings),
    }
    folds = KFold(n_folds, shuffle=True, random_state=0)

    # Worker processes talk over the loopback interface; threads (--fast) in-process.
    where = dict(processes=False) if args.fast else dict(processes=True, host="127.0.0.1")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                      **where) as cluster, Client(cluster) as client:
        print(f"Cluster: {len(client.scheduler_info()['workers'])} workers at "
              f"{client.scheduler.address}\n")
        print(f"{'model':<14} {'log-likelihood':>16} {'CRPS':>15} {'90% coverage':>15}")
        start = time.perf_counter()
        for name, model in models.items():
            with joblib.parallel_backend("dask"):
                scores = cross_validate(model, X, y, cv=folds, scoring=SCORING, n_jobs=-1)
            # nll_scorer and crps_scorer return minus the metric (greater is better).
            log_likelihood = scores["test_log_likelihood"]
            crps = -scores["test_crps"]
            coverage = scores["test_coverage_90"]
            print(f"{name:<14} {log_likelihood.mean():>8.3f} +- {log_likelihood.std():.3f} "
                  f"{crps.mean():>7.3f} +- {crps.std():.3f} "
                  f"{coverage.mean():>7.3f} +- {coverage.std():.3f}")
    print(f"\n{len(models) * n_folds} fits and scorings in {time.perf_counter() - start:.0f} s "
          f"(mean +- std over {n_folds} folds)")


if __name__ == "__main__":
    main()
