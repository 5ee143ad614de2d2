"""Data and settings shared by the estimator tests."""

import numpy as np

FAST = dict(max_epochs=3, n_noise_samples=32, hidden_size=16, random_state=0)
"""Settings for tests that need a fitted model, not a good one."""


def heteroscedastic(n=600, seed=0):
    """y | x ~ N(2x, (0.2 + 0.3|x|)^2) with x ~ U(-2, 2)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, 2 * X[:, 0] + (0.2 + 0.3 * np.abs(X[:, 0])) * rng.normal(size=n)
