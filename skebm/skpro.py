"""skebm inside skpro: a probabilistic regressor and a distribution backed by skebm's own.

Needs skpro, an optional dependency: ``pip install "skebm[skpro]"``.
:class:`SkebmProbaRegressor` wraps any skebm estimator (``EnergyRegressor``,
``DistilledMDNRegressor``, ``RecalibratedRegressor``, or a Pipeline ending in
one) as an skpro ``BaseProbaRegressor``, so that skpro's ``predict_proba``,
``predict_interval``, ``predict_quantiles``, metrics (CRPS, log loss, ...)
and ``benchmarking.evaluate`` work with it. Its ``predict_proba`` returns a
:class:`SkebmDistribution`, whose ``pdf``, ``log_pdf``, ``cdf``, ``ppf``,
``mean``, ``var`` and ``sample`` are those of the skebm distribution itself
(closed form for mixtures, adaptive quadrature for energy models), not an
empirical approximation; its ``energy`` (behind skpro's CRPS) integrates the
distribution's exact quantile function instead of sampling, on cells that
resolve a sharp peak as well as a broad background. Only 1-D targets are
supported, as skpro scores each target column separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

try:
    from skpro.distributions.base import BaseDistribution
    from skpro.regression.base import BaseProbaRegressor
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'skebm.skpro needs skpro; install it with `pip install "skebm[skpro]"`.'
    ) from error

from skebm.distributions import ConditionalDistribution
from skebm.distributions._quantile_space import quantile_nodes
from skebm.pipeline import predict_dist

__all__ = ["SkebmDistribution", "SkebmProbaRegressor"]


class SkebmDistribution(BaseDistribution):
    """An skpro distribution of shape ``(n, 1)`` backed by a skebm distribution.

    Parameters
    ----------
    dist : ConditionalDistribution
        A batch of ``n`` skebm distributions of a 1-D target, e.g.
        ``estimator.predict_dist(X)``.
    index : pandas.Index, optional
        Row index, ``RangeIndex(n)`` by default.
    columns : pandas.Index, optional
        The one column's label, ``RangeIndex(1)`` by default.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.distributions import GaussianMixtureDistribution
    >>> from skebm.skpro import SkebmDistribution
    >>> normals = GaussianMixtureDistribution(np.zeros((2, 1)), np.zeros((2, 1, 1)),
    ...                                       np.ones((2, 1, 1)))
    >>> SkebmDistribution(normals).cdf(np.zeros((2, 1)))
         0
    0  0.5
    1  0.5
    """

    _tags = {
        "authors": ["skebm developers"],
        "capabilities:approx": ["pdfnorm"],
        "capabilities:exact": ["mean", "var", "energy", "pdf", "log_pdf", "cdf", "ppf"],
        "distr:measuretype": "continuous",
        "distr:paramtype": "nonparametric",
        "broadcast_init": "off",
    }

    def __init__(self, dist, index=None, columns=None) -> None:
        if not isinstance(dist, ConditionalDistribution):
            raise TypeError(f"dist must be a skebm ConditionalDistribution, got {type(dist)}.")
        if dist.target_dim != 1:
            raise ValueError("SkebmDistribution supports distributions of 1-D targets only.")
        self.dist = dist
        super().__init__(
            index=pd.RangeIndex(len(dist)) if index is None else index,
            columns=pd.RangeIndex(1) if columns is None else columns,
        )
        if self.shape != (len(dist), 1):
            raise ValueError(
                f"index and columns give shape {self.shape}; the distribution needs "
                f"({len(dist)}, 1)."
            )

    # ------------------------------------------------------------- values
    def _mean(self) -> np.ndarray:
        return self.dist.mean().reshape(-1, 1)

    def _var(self) -> np.ndarray:
        return self.dist.var().reshape(-1, 1)

    def _log_pdf(self, x: np.ndarray) -> np.ndarray:
        return self.dist.logpdf(np.asarray(x, dtype=np.float64)[:, 0]).reshape(-1, 1)

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self._log_pdf(x))

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        return self.dist.cdf(np.asarray(x, dtype=np.float64)[:, 0]).reshape(-1, 1)

    def _ppf(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)[:, 0]
        inside = (p > 0.0) & (p < 1.0)
        out = np.where(p <= 0.0, -np.inf, np.inf)
        if np.any(inside):
            out[inside] = self.dist[np.flatnonzero(inside)].ppf(p[inside])
        return out.reshape(-1, 1)

    def _sample(self, n_samples=None) -> pd.DataFrame:
        draws = self.dist.sample(1 if n_samples is None else int(n_samples))  # (n, s)
        if n_samples is None:
            return pd.DataFrame(draws, index=self.index, columns=self.columns)
        index = pd.MultiIndex.from_product([range(draws.shape[1]), self.index])
        return pd.DataFrame(draws.T.reshape(-1, 1), index=index, columns=self.columns)

    # ------------------------------------------------- energy (for the CRPS)
    def _energy_self(self) -> np.ndarray:
        # E|X - Y| = 2 E[X (2 F(X) - 1)] = 2 int_0^1 (2u - 1) Q(u) du, in quantile space.
        levels, weights, values = quantile_nodes(self.dist)
        centred = values - np.sum(weights * values, axis=1, keepdims=True)  # int (2u - 1) = 0
        return 2.0 * np.sum(weights * (2.0 * levels - 1.0) * centred, axis=1).reshape(-1, 1)

    def _energy_x(self, x: np.ndarray) -> np.ndarray:
        # E|X - x| = int_0^1 |Q(u) - x| du, with a cell edge at F(x), where the integrand kinks.
        x = np.asarray(x, dtype=np.float64)[:, 0]
        _, weights, values = quantile_nodes(self.dist, self.dist.cdf(x)[:, None])
        return np.sum(weights * np.abs(values - x[:, None]), axis=1).reshape(-1, 1)

    # ------------------------------------------------------------ subsetting
    def _iloc(self, rowidx=None, colidx=None) -> SkebmDistribution:
        rows = np.arange(len(self.dist)) if rowidx is None else np.arange(len(self.dist))[rowidx]
        columns = self.columns if colidx is None else self.columns[np.atleast_1d(colidx)]
        rows = np.atleast_1d(rows)
        return SkebmDistribution(self.dist[rows], index=self.index[rows], columns=columns)

    def _iat(self, rowidx=None, colidx=None) -> SkebmDistribution:
        return self._iloc(rowidx=[rowidx], colidx=[colidx])

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict]:
        """Small Gaussian mixtures for skpro's own distribution checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Name of the parameter set; skebm has only the default one.

        Returns
        -------
        list of dict
            Keyword arguments of ``SkebmDistribution``, one dict per test
            instance.
        """
        from skebm.distributions import GaussianMixtureDistribution

        mixture = GaussianMixtureDistribution(
            np.log([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]]),
            np.array([[[-1.0], [1.0]], [[0.0], [2.0]], [[1.0], [1.5]]]),
            np.array([[[0.5], [1.0]], [[1.0], [0.3]], [[0.2], [2.0]]]),
        )
        return [{"dist": mixture},
                {"dist": mixture, "index": pd.Index([10, 20, 30]), "columns": pd.Index(["y"])}]


class SkebmProbaRegressor(BaseProbaRegressor):
    """A skebm estimator as an skpro probabilistic regressor.

    Parameters
    ----------
    estimator : skebm estimator or Pipeline, default=None
        What to fit, cloned in ``fit``: an ``EnergyRegressor``,
        ``DistilledMDNRegressor`` or ``RecalibratedRegressor``, or a Pipeline
        ending in one; ``None`` means ``EnergyRegressor()``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skebm import DistilledMDNRegressor
    >>> from skebm.skpro import SkebmProbaRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.uniform(-2, 2, 200)})
    >>> y = pd.DataFrame({"y": np.sin(X["x"]) + 0.2 * rng.normal(size=200)})
    >>> model = SkebmProbaRegressor(DistilledMDNRegressor(max_epochs=2, random_state=0))
    >>> proba = model.fit(X, y).predict_proba(X.iloc[:3])
    >>> type(proba).__name__, proba.shape
    ('SkebmDistribution', (3, 1))
    """

    _tags = {
        "authors": ["skebm developers"],
        "python_dependencies": ["torch"],
        "capability:multioutput": False,
        "capability:missing": False,
        "X_inner_mtype": "pd_DataFrame_Table",
        "y_inner_mtype": "pd_DataFrame_Table",
    }

    def __init__(self, estimator=None) -> None:
        self.estimator = estimator
        super().__init__()

    def _fit(self, X: pd.DataFrame, y: pd.DataFrame, C=None) -> SkebmProbaRegressor:
        from skebm import EnergyRegressor

        if y.shape[1] != 1:
            raise ValueError(
                f"SkebmProbaRegressor models one target column, but y has {y.shape[1]} "
                f"columns ({', '.join(map(str, y.columns))}); fit one regressor per column.")
        estimator = EnergyRegressor() if self.estimator is None else clone(self.estimator)
        self.estimator_ = estimator.fit(_string_columns(X), y.iloc[:, 0].to_numpy())
        self._y_columns = y.columns
        return self

    def _predict_proba(self, X: pd.DataFrame) -> SkebmDistribution:
        dist = predict_dist(self.estimator_, _string_columns(X))
        return SkebmDistribution(dist, index=X.index, columns=self._y_columns)

    def _predict(self, X: pd.DataFrame) -> pd.DataFrame:
        mean = predict_dist(self.estimator_, _string_columns(X)).mean()
        return pd.DataFrame(mean, index=X.index, columns=self._y_columns)

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict]:
        """Fast energy and distilled models for skpro's own estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Name of the parameter set; skebm has only the default one.

        Returns
        -------
        list of dict
            Keyword arguments of ``SkebmProbaRegressor``, one dict per test
            instance.
        """
        from skebm import DistilledMDNRegressor, EnergyRegressor

        fast = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, random_state=0)
        return [{"estimator": EnergyRegressor(**fast, n_inference_samples=64)},
                {"estimator": DistilledMDNRegressor(**fast)}]


def _string_columns(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` with its column labels as strings, as scikit-learn wants (skpro allows mixed ones)."""
    if all(isinstance(name, str) for name in X.columns):
        return X
    return X.set_axis(X.columns.astype(str), axis=1)
