"""skebm inside skpro: benchmark EnergyRegressor against skpro baselines with skpro's tools
========================================================================================

Needs skpro (``pip install "skebm[skpro]"``). ``skebm.skpro.SkebmProbaRegressor``
makes any skebm estimator an skpro probabilistic regressor, so skpro's
``benchmarking.evaluate`` cross-validates it next to skpro's own models and
scores all of them with skpro's metrics: here the CRPS and the log loss
(negative log-likelihood), lower is better, on the multimodal toy problem of
Brando et al. (2019), where a Gaussian predictive distribution cannot fit.

Baselines: skpro's ``BayesianRidge`` (a Gaussian linear model) and
``ResidualDouble`` with random forests for the mean and for the absolute
residuals (a heteroscedastic Gaussian), both pure scikit-learn inside.

Run it with::

    python examples/skpro_benchmark.py [--fast]

``--fast`` (or the environment variable ``SKEBM_EXAMPLE_FAST=1``) uses few rows,
two folds and two epochs: a smoke test, not a result.
"""

from __future__ import annotations

import argparse
import os

import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold
from skpro.benchmarking.evaluate import evaluate
from skpro.metrics import CRPS, LogLoss
from skpro.regression.linear import BayesianRidge
from skpro.regression.residual import ResidualDouble

from skebm import EnergyRegressor
from skebm.datasets import make_brando2019
from skebm.skpro import SkebmProbaRegressor


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    X, y = make_brando2019(n_samples=300 if args.fast else 2000, random_state=0)
    X, y = pd.DataFrame(X, columns=["x"]), pd.DataFrame({"y": y})
    settings = dict(max_epochs=2, n_noise_samples=16, hidden_size=8) if args.fast else {}
    forest = RandomForestRegressor(n_estimators=20 if args.fast else 200, min_samples_leaf=20,
                                   random_state=0)
    models = {
        "skebm EnergyRegressor": SkebmProbaRegressor(EnergyRegressor(random_state=0, **settings)),
        "skpro BayesianRidge": BayesianRidge(),
        "skpro ResidualDouble(forest)": ResidualDouble(forest),
    }
    folds = KFold(2 if args.fast else 5, shuffle=True, random_state=0)
    print(f"{len(X)} rows, {folds.get_n_splits()}-fold cross-validation with skpro's evaluate\n")
    print(f"{'model':<30}{'CRPS':>10}{'log loss':>10}")
    for name, model in models.items():
        results = evaluate(model, folds, X, y, scoring=[CRPS(), LogLoss()])
        print(f"{name:<30}{results['test_CRPS'].mean():>10.4f}"
              f"{results['test_LogLoss'].mean():>10.4f}")


if __name__ == "__main__":
    main()
