"""The paper's metric on the toy problem of :func:`skebm.datasets.make_gustafsson2020`."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from skebm.datasets import gustafsson2020_log_density
from skebm.metrics._grid import kl_divergence_on_grid

__all__ = ["gustafsson2020_kl"]


def gustafsson2020_kl(estimator, *, n_grid: int = 2048) -> float:
    """KL(p_true || p_model) on the toy problem of :func:`~skebm.datasets.make_gustafsson2020`.

    The paper's metric: ``n_grid`` inputs evenly spaced in [-3, 3], each with
    ``n_grid`` targets evenly spaced in [-3, 3]; see :func:`kl_divergence_on_grid`.

    Parameters
    ----------
    estimator : fitted estimator
        Anything with ``predict_dist(X)`` whose result has ``logpdf`` accepting
        many points per row, ``(n, k)``.
    n_grid : int, default=2048
        Grid size along x and along y.

    Returns
    -------
    float
        Mean KL divergence over the x grid (nats); lower is better.

    Examples
    --------
    >>> from skebm.datasets import gustafsson2020_log_density
    >>> from skebm.metrics import gustafsson2020_kl
    >>> class Oracle:
    ...     def predict_dist(self, X): return OracleDist(X[:, 0])
    >>> class OracleDist:
    ...     def __init__(self, x): self.x = x
    ...     def logpdf(self, y): return gustafsson2020_log_density(self.x[:, None], y)
    >>> gustafsson2020_kl(Oracle(), n_grid=256) < 1e-12
    True
    """
    if isinstance(n_grid, bool) or not isinstance(n_grid, Integral) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2, got {n_grid!r}.")
    x_grid = np.linspace(-3.0, 3.0, int(n_grid))
    y_grid = np.linspace(-3.0, 3.0, int(n_grid))
    dist = estimator.predict_dist(x_grid.reshape(-1, 1))
    model_log_density = dist.logpdf(np.broadcast_to(y_grid, (n_grid, n_grid)))
    true_log_density = gustafsson2020_log_density(x_grid[:, None], y_grid[None, :])
    return kl_divergence_on_grid(true_log_density, model_log_density, y_grid=y_grid)
