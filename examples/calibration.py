"""Is my model calibrated? Diagnose with PIT values, fix with RecalibratedRegressor
================================================================================

A flexible model trained long on little data becomes over-confident: its
intervals are too narrow. This script

1. fits an EnergyRegressor for many epochs on 300 rows of the toy problem of
   Gustafsson et al. (2020),
2. wraps the same model in ``RecalibratedRegressor`` (every model the mixture
   of two differently seeded fits, five-fold cross-fitted PIT values, an
   isotonic map of the CDF; the density follows the map),
3. prints the held-out coverage of central 50/80/90/95% intervals, the
   calibration error and the test log-likelihood of both,
4. saves the PIT histograms and calibration curves side by side.

Run it with::

    python examples/calibration.py [--output calibration.png] [--fast]

``--fast`` (or the environment variable ``SKEBM_EXAMPLE_FAST=1``) trains tiny
models for two epochs: a smoke test, not a result.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from skebm import EnergyRegressor  # noqa: E402
from skebm.calibration import RecalibratedRegressor, calibration_error, pit  # noqa: E402
from skebm.datasets import make_gustafsson2020  # noqa: E402
from skebm.metrics import interval_coverage  # noqa: E402
from skebm.plotting import plot_calibration  # noqa: E402

LEVELS = (0.5, 0.8, 0.9, 0.95)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--output", type=Path, default=Path("calibration.png"),
                        help="where to save the figure (default: ./calibration.png)")
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    X_train, y_train = make_gustafsson2020(n_samples=200 if args.fast else 300, random_state=0)
    X_test, y_test = make_gustafsson2020(n_samples=300 if args.fast else 4000, random_state=1)
    settings = (dict(max_epochs=2, n_noise_samples=16, hidden_size=8) if args.fast
                else dict(max_epochs=150, hidden_size=64))
    model = EnergyRegressor(random_state=0, **settings)
    folds = KFold(2 if args.fast else 5, shuffle=True, random_state=0)
    recalibrated = RecalibratedRegressor(model, cv=folds).fit(X_train, y_train)
    raw = recalibrated.estimator_  # one fit on all training rows (the first of the two mixed)

    print(f"{'held-out':<14}" + "".join(f"{level:>7.0%}" for level in LEVELS)
          + "  calibration error  log-likelihood")
    for name, fitted in (("raw", raw), ("recalibrated", recalibrated)):
        dist = fitted.predict_dist(X_test)
        coverage = "".join(f"{interval_coverage(y_test, dist, confidence=level):>7.3f}"
                           for level in LEVELS)
        error = calibration_error(pit(y_test, dist))
        print(f"{name:<14}{coverage}  {error:>17.4f}  {fitted.score(X_test, y_test):>14.4f}")

    hist_ax, _ = plot_calibration(raw, X_test, y_test, recalibrated=recalibrated)
    hist_ax.figure.suptitle("EnergyRegressor on 300 rows, 150 epochs: held-out calibration")
    hist_ax.figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    hist_ax.figure.savefig(args.output, dpi=110)
    plt.close(hist_ax.figure)
    print(f"Saved the figure to {args.output}")


if __name__ == "__main__":
    main()
