"""EnsembleRegressor: the equal mixture of differently seeded fits of one estimator."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, _fit_context, clone
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from skebm._validation import weighted_mean
from skebm._weights import weight_routing
from skebm.distributions import ConditionalDistribution
from skebm.distributions.equal_mixture import EqualMixtureDistribution
from skebm.pipeline import predict_dist

__all__ = ["EnsembleRegressor", "member_clones", "member_random_state", "member_seed",
           "predict_mixture"]


class EnsembleRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """The equal mixture of ``n_estimators`` differently seeded fits of one estimator.

    A deep ensemble (Lakshminarayanan et al., NeurIPS 2017) of skebm's
    probabilistic regressors: every member is a clone of ``estimator``
    fitted on all the rows, the members differ only by their
    ``random_state`` (initialisation, batches, noise samples and the rows
    held out for early stopping), and the predictive distribution is
    their equal mixture ``p(y | x) = (1/K) sum_k p_k(y | x)``. Its density,
    CDF, moments, quantiles and draws are exact given the members; for
    targets of two or more dimensions its mode is a local search from the
    best member mode (see :class:`~skebm.distributions.EqualMixtureDistribution`).

    **Seeds.** Member 0 is ``estimator`` as given. Member ``k >= 1`` has
    every ``random_state`` parameter (also those of a Pipeline's steps,
    ``step__random_state``) set to a seed derived from ``k`` and the
    estimator's own ``random_state``, so a seeded estimator gives a
    reproducible ensemble and an unseeded one a different ensemble at
    every fit.

    Parameters
    ----------
    estimator : estimator, default=None
        A regressor with ``predict_dist`` (a skebm estimator, or a Pipeline
        ending in one) and a ``random_state`` parameter. ``None`` means
        ``EnergyRegressor()``.
    n_estimators : int, default=5
        Number of members ``K``.
    n_jobs : int or None, default=None
        Members fitted in parallel by joblib (``None`` means 1 unless in a
        ``joblib.parallel_backend`` context, ``-1`` all cores). joblib's
        worker processes limit their own torch threads, so the workers
        together do not oversubscribe the cores. The fitted members do not
        depend on ``n_jobs``.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, member 0 first.
    n_features_in_ : int
        Number of input features, when the members record it.
    feature_names_in_ : ndarray of str
        Input column names, when the members record them.

    See Also
    --------
    skebm.calibration.RecalibratedRegressor : Recalibrates a model's
        distribution on held-out PIT values.

    Examples
    --------
    >>> import numpy as np
    >>> from skebm import EnergyRegressor
    >>> from skebm.ensemble import EnsembleRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 1))
    >>> y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> base = EnergyRegressor(max_epochs=2, hidden_size=8, random_state=0)
    >>> ensemble = EnsembleRegressor(base, n_estimators=3).fit(X, y)
    >>> len(ensemble.estimators_), ensemble.predict(X[:4]).shape
    (3, (4,))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimator=None, *, n_estimators: int = 5, n_jobs=None) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit ``n_estimators`` differently seeded clones of the estimator on all rows.

        Parameters
        ----------
        X : array-like
            Inputs, as ``estimator`` takes them.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to every member's ``fit`` (to a Pipeline's
            last step).

        Returns
        -------
        self : EnsembleRegressor
            This estimator, fitted.
        """
        estimator = self._estimator()
        seed = member_seed(estimator)
        members = member_clones(estimator, self.n_estimators, "n_estimators", seed=seed)
        routing = weight_routing(estimator, sample_weight)
        fit_params = {} if routing is None else {routing: sample_weight}
        self._target_ndim = np.asarray(y).ndim
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, X, y, fit_params) for member in members)
        self._sample_seed = seed
        first = self.estimators_[0]
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))
            else:
                self.__dict__.pop(name, None)
        return self

    def predict_dist(self, X) -> ConditionalDistribution:
        """Predictive distributions: the equal mixture of the members', one per row of ``X``.

        Parameters
        ----------
        X : array-like
            Inputs.

        Returns
        -------
        ConditionalDistribution
            The members' equal mixture (member 0's own distribution when
            ``n_estimators=1``); later fits do not change it.
        """
        check_is_fitted(self, "estimators_")
        return predict_mixture(self.estimators_, X)

    def predict(self, X, kind: str = "mean") -> np.ndarray:
        """Point predictions of the mixture.

        Parameters
        ----------
        X : array-like
            Inputs.
        kind : {"mean", "median", "mode"}, default="mean"
            The mixture's mean, the median of each marginal, or its most
            likely target.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Float64, in the units of ``y``; the shape follows ``y`` in
            ``fit`` (a column vector gives ``(n_samples, 1)``).
        """
        if kind not in ("mean", "median", "mode"):
            raise ValueError(f"kind must be 'mean', 'median' or 'mode', got {kind!r}.")
        point = getattr(self.predict_dist(X), kind)()
        return point[:, None] if self._target_ndim == 2 and point.ndim == 1 else point

    def sample(self, X, n_samples: int = 100, random_state=None) -> np.ndarray:
        """Draw from the mixture for every row of ``X``.

        Parameters
        ----------
        X : array-like
            Inputs.
        n_samples : int, default=100
            Samples per row.
        random_state : int, Generator or None, default=None
            Seed of the draws; ``None`` uses a seed fixed at ``fit`` (from the
            estimator's ``random_state``), so repeated calls agree.

        Returns
        -------
        ndarray of shape (n_rows, n_samples) or (n_rows, n_samples, n_targets)
            The draws of each row; the last axis is there when ``y`` in
            ``fit`` was 2-D, also with one column.
        """
        dist = self.predict_dist(X)
        if random_state is None:
            random_state = self._sample_seed
        draws = dist.sample(n_samples, random_state=random_state)
        return draws[..., None] if self._target_ndim == 2 and draws.ndim == 2 else draws

    def score(self, X, y, sample_weight=None) -> float:
        """Mean log-likelihood of ``y`` under the mixture (higher is better).

        Parameters
        ----------
        X : array-like
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the mean.

        Returns
        -------
        float
            The (weighted) mean of ``log p(y_i | x_i)``; never NaN or ``+inf``.
        """
        dist = self.predict_dist(X)
        targets = np.asarray(y, dtype=np.float64)
        if dist.target_dim == 1 and targets.ndim == 2 and targets.shape[1] == 1:
            targets = targets[:, 0]
        return weighted_mean(dist.logpdf(targets), sample_weight)

    def _estimator(self):
        if self.estimator is None:
            from skebm._energy import EnergyRegressor

            return EnergyRegressor()
        return self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._estimator())
        tags.input_tags = inner.input_tags
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = inner.target_tags.single_output
        tags.regressor_tags.poor_score = True
        return tags


def member_clones(estimator, n_members: int, parameter: str = "n_members",
                  seed: int | None = None) -> list:
    """Unfitted clones of ``estimator``: the first as given, the others reseeded.

    Parameters
    ----------
    estimator : estimator
        The estimator to clone; it (or a step of its Pipeline) needs a
        ``random_state`` parameter when ``n_members > 1``.
    n_members : int
        Number of clones.
    parameter : str, default="n_members"
        The caller's name for ``n_members``, for the error message.
    seed : int, optional
        ``member_seed(estimator)``, when the caller has drawn it already (an
        estimator seeded by a ``RandomState`` advances it at every draw).

    Returns
    -------
    list of estimators
        ``n_members`` unfitted clones; clone ``k >= 1`` has every
        ``random_state`` and ``*__random_state`` parameter set to
        ``member_random_state(seed, k)``.

    Raises
    ------
    ValueError
        If ``n_members > 1`` and the estimator has no ``random_state``.
    """
    clones = [clone(estimator)]
    if n_members > 1:
        keys = [key for key in estimator.get_params(deep=True)
                if key == "random_state" or key.endswith("__random_state")]
        if not keys:
            raise ValueError(
                f"{parameter}={n_members} mixes fits that differ only by their random_state, "
                f"but {type(estimator).__name__} has no random_state parameter (nor any step "
                f"of it); use {parameter}=1.")
        seed = member_seed(estimator) if seed is None else seed
        for member in range(1, n_members):
            state = member_random_state(seed, member)
            clones.append(clone(estimator).set_params(**dict.fromkeys(keys, state)))
    return clones


def member_seed(estimator) -> int:
    """A seed derived from the estimator's ``random_state`` (its last step's in a Pipeline).

    Parameters
    ----------
    estimator : estimator
        The unfitted estimator.

    Returns
    -------
    int
        In ``[0, 2**31 - 1)``; random when the estimator is unseeded.
    """
    params = estimator.get_params(deep=True)
    if "random_state" in params:
        state = params["random_state"]
    else:
        nested = [value for key, value in params.items() if key.endswith("__random_state")]
        state = nested[-1] if nested else None
    return int(check_random_state(state).randint(np.iinfo(np.int32).max))


def member_random_state(seed: int, member: int) -> int:
    """The ``random_state`` of member ``member >= 1`` (member 0 keeps the estimator's).

    Parameters
    ----------
    seed : int
        ``member_seed`` of the estimator.
    member : int
        The member's index.

    Returns
    -------
    int
        A seed in ``[0, 2**31 - 1)``.
    """
    return int(np.random.default_rng([seed, member]).integers(np.iinfo(np.int32).max))


def predict_mixture(fits: list, X) -> ConditionalDistribution:
    """The equal mixture of the fitted models' distributions for ``X`` (one model: its own).

    Parameters
    ----------
    fits : list of fitted estimators
        The models: skebm estimators, or Pipelines ending in one.
    X : array-like
        Inputs.

    Returns
    -------
    ConditionalDistribution
        An :class:`~skebm.distributions.EqualMixtureDistribution` of the
        models' distributions, or the one model's distribution.
    """
    dists = [predict_dist(fit, X) for fit in fits]
    return dists[0] if len(dists) == 1 else EqualMixtureDistribution(dists)


def _fit_member(member, X, y, fit_params: dict):
    return member.fit(X, y, **fit_params)
