"""Image regression: count the blobs in fluorescence-like images with EnergyRegressor
==================================================================================

A small stand-in for the paper's cell-count task. ``make_blob_images`` draws
32x32 single-channel ``uint8`` images of up to 20 Gaussian blobs ("cells");
the target is their count (plus uniform jitter, so that it has a density).
Overlapping blobs make the count uncertain, more so in crowded images, which
a probabilistic regressor should report.

The images go to ``fit`` as a NumPy array of shape (n, H, W): the estimator
scales the ``uint8`` values, standardises them and, with the default
``feature_extractor="auto"``, trains a small convolutional network (pass
``"resnet18"`` for the paper's backbone, or your own ``torch.nn.Module``).
No torchvision needed. The script prints R^2, the test NLL (it cannot go
below 0 here), the coverage of 90% intervals, the training time and a few
predictions.

Run it with::

    python examples/image_regression.py [--n-train 3000] [--fast]

It takes a few minutes on a CPU. ``--fast`` (or ``SKEBM_EXAMPLE_FAST=1``)
trains briefly on few images: a smoke test, not a result.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.metrics import r2_score

from skebm import EnergyRegressor
from skebm.datasets import make_blob_images
from skebm.metrics import interval_coverage


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--n-train", type=int, default=3000, help="training images")
    parser.add_argument("--n-test", type=int, default=1000, help="test images")
    parser.add_argument("--fast", action="store_true",
                        default=os.environ.get("SKEBM_EXAMPLE_FAST") == "1",
                        help="tiny settings for a smoke test")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    n_train, n_test = (200, 100) if args.fast else (args.n_train, args.n_test)
    X, y = make_blob_images(n_train + n_test, image_size=32, random_state=0)
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    print(f"images: {X_train.shape} {X_train.dtype} for training, {len(X_test)} for testing")

    model = EnergyRegressor(random_state=0, **({"max_epochs": 2} if args.fast else {}))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(f"fitted {type(model.module_.extractor).__name__} + energy head in {seconds:.0f} s "
          f"({model.n_iter_} epochs)")

    dist = model.predict_dist(X_test)
    mean = dist.mean()
    low, high = dist.interval(0.9)
    print(f"R^2             {r2_score(y_test, mean):.3f}")
    print(f"test NLL        {-np.mean(dist.logpdf(y_test)):.3f}  (mean -log p(y | image))")
    print(f"90% coverage    {interval_coverage(y_test, dist, confidence=0.9):.3f}")
    print("\n count | predicted mean | 90% interval")
    for index in np.argsort(y_test)[:: max(1, len(y_test) // 6)]:
        print(f"{y_test[index]:6.1f} | {mean[index]:14.1f} | "
              f"[{low[index]:.1f}, {high[index]:.1f}]")


if __name__ == "__main__":
    main()
