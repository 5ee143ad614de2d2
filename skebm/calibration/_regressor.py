"""RecalibratedRegressor: a meta-estimator whose distributions are recalibrated on held-out PIT."""

from __future__ import annotations

from functools import reduce
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, _fit_context
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from skebm._docs import fill_shared_docs
from skebm._validation import weighted_mean
from skebm.calibration._discrete import (
    dequantise,
    integer_values,
    interval_log_probability,
    pit_intervals,
    randomised_pit,
)
from skebm.calibration._distribution import RecalibratedDistribution
from skebm.calibration._fitting import _early_stopping_rows, fit_jobs, one_dimensional_targets
from skebm.calibration._map import CalibrationMap
from skebm.calibration._pit import pit
from skebm.distributions.equal_mixture import EqualMixtureDistribution
from skebm.ensemble import member_clones, member_seed, predict_mixture

__all__ = ["RecalibratedRegressor"]


@fill_shared_docs
class RecalibratedRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """A probabilistic regressor whose predictive distributions are recalibrated.

    Learns calibration maps ``R`` (:class:`CalibrationMap`) from cross-fitted
    PIT values: for each of the ``cv`` folds, a clone of ``estimator`` fitted
    on the other folds gives the PIT ``F(y | x)`` of the held-out rows, so
    every row contributes one out-of-sample PIT value and no data is set
    aside. Each map is the isotonic recalibration of Kuleshov et al. (ICML
    2018), made continuous and strictly increasing so that the recalibrated
    distribution keeps a density. As in scikit-learn's
    ``CalibratedClassifierCV``, ``ensemble`` chooses what is predicted:

    * ``ensemble=False`` (the default): one more clone is fitted on all rows,
      and :meth:`predict_dist` returns a :class:`RecalibratedDistribution`
      with CDF ``R(F(y | x))`` and density ``R'(F(y | x)) p(y | x)``. Its
      one map is fitted on all cross-fitted PIT values together with the PIT
      values of this final model on the rows its own early stopping held
      out (``validation_indices_`` of a skebm estimator, or of the last step
      of a scikit-learn ``Pipeline``; none for other estimators): the
      cross-fitted values come from the fold models, the others are the
      only out-of-sample evidence on the final model itself, whose
      calibration can differ from theirs
      (one fit's calibration varies from fit to fit); with ``n_fits > 1``
      only the rows that every final fit held out count, which are few
      (see below). The fold models
      should still resemble the final one: models trained on fewer rows are
      not calibrated like those trained on more (on small data sets even the
      direction differs from one data set to another), so the default ten
      folds train each fold model on 90 % of the rows, closer to the final
      model than five folds' 80 %; with few rows, use at least enough folds
      that the fold models fall on the same side of
      ``early_stopping="auto"``'s threshold as the final one.
    * ``ensemble=True``: each fold model keeps the map fitted on its own
      held-out rows, and :meth:`predict_dist` returns the equal-weight mixture
      of the ``K`` recalibrated fold distributions
      (:class:`~skebm.distributions.EqualMixtureDistribution`), with CDF ``mean_k R_k(F_k(y | x))``
      and density ``mean_k R_k'(F_k(y | x)) p_k(y | x)``. Averaging often
      improves the log-likelihood, but a mixture of calibrated distributions
      that disagree is too wide (under-confident), not calibrated: expect
      central intervals that hold more than their nominal mass when the fold
      models differ (a linear pool of calibrated forecasts is over-dispersed;
      Ranjan and Gneiting, JRSS B 2010). ``K`` models to evaluate at
      prediction time.

    **Several fits per model** (``n_fits``, by default 2): every model above,
    each fold model and the final one, is the equal mixture of ``n_fits``
    clones that differ only by their ``random_state``, seeded as the members
    of :class:`~skebm.ensemble.EnsembleRegressor` are (the first keeps the
    estimator's; fit ``j >= 1`` of every model gets the same seed derived
    from it), fitted on the same rows. The maps are learned on the held-out
    PIT of the fold mixtures, so they correct the kind of predictor they are
    applied to: a mixture of fits is more accurate than one fit, but wider
    than its members, and the map takes the excess width away. One fit's
    calibration varies from seed to seed, on small data sets by as much as
    the error a map corrects, and mixing fits averages part of that
    variation away: with two fits the recalibrated coverage is within 3
    points of every level on all nine benchmark data sets, where one fit
    missed on two (``benchmarks/RESULTS.md``). Fitting and
    predicting cost ``n_fits`` times as much as with ``n_fits=1``. Without
    ``ensemble``, the final mixture's own early-stopping rows are those that
    every one of its fits held out; each fit draws its own with its seed, so
    two fits that each hold out 10 % of the rows share about 1 %, and the
    map rests almost entirely on the fold mixtures. When the estimator's
    ``random_state`` is None, fit 0 is unseeded and the later fits' seeds
    are drawn from NumPy's global generator, so, like the fits themselves,
    they differ from run to run.

    Only 1-D targets are supported: a per-marginal map would not give a
    consistent joint density. For multi-dimensional targets, diagnose the
    marginals with :func:`pit` and :func:`calibration_error`.

    **Integer targets** (ratings, counts): with ``discrete=True``, ``y`` must
    hold integers ``k``. Every model is fitted on the dequantised targets
    ``k + U(-1/2, 1/2)``, drawn once per ``fit``: the first ``n`` draws of
    ``np.random.default_rng(seed)`` (``uniform(-0.5, 0.5)``; the next ``n``,
    ``random()``, randomise ``pit_values_``), with ``seed =
    check_random_state(random_state).randint(2**31 - 1)`` for the wrapped
    estimator's ``random_state`` (a Pipeline's: its last step's that has
    one). The maps are fitted to the held-out PIT intervals
    ``[F(k - 1/2), F(k + 1/2)]`` (:meth:`CalibrationMap.from_intervals`), so
    that the probabilities of the integers, ``P(Y = k) = cdf(k + 1/2) - cdf(k - 1/2)`` of the
    recalibrated :meth:`predict_dist`, are calibrated: their randomised PIT
    (:func:`pit` with ``discrete=True``) is uniform. :meth:`predict_dist`
    still returns the continuous distribution of the dequantised target;
    rounding its :meth:`sample` gives integers with those probabilities.

    Parameters
    ----------
    estimator : estimator with ``predict_dist``, default=None
        A skebm regressor (or a Pipeline ending in one) to recalibrate;
        cloned, never modified. ``None`` uses ``DistilledMDNRegressor()``.
    cv : int, cross-validation generator or iterable, default=10
        How the PIT values are cross-fitted, as in ``cross_val_predict``
        (an int gives unshuffled ``KFold``; pass ``KFold(shuffle=True)`` when the
        rows are ordered). ``fit`` fits ``cv + 1`` models (``cv`` with
        ``ensemble=True``), each ``n_fits`` times; fewer folds are cheaper but
        train the fold models on fewer rows than the final one (see above).
    n_knots : int or "auto", default="auto"
        Linear pieces of each map; ``"auto"`` picks the number that gives the
        PIT values the highest cross-validated log-likelihood (see
        :class:`CalibrationMap`), which is the recalibrated model's.
    ensemble : bool, default=False
        Predict with the model fitted on all rows and one map (False), or with
        the mixture of the recalibrated fold models (True); see above.
    discrete : bool, default=False
        Whether ``y`` holds integers whose probabilities are to be calibrated
        (see above); a ValueError is raised at ``fit`` if it does not.
    n_fits : int, default=2
        Fits per model, mixed with equal weights (see above); ``n_fits > 1``
        needs an estimator with a ``random_state`` parameter (or a Pipeline
        with a step that has one: every ``random_state`` of it is reseeded).
        ``n_fits=1`` halves the cost.
    n_jobs : int, default=None
        Fits run in parallel with joblib: each fit of each fold model and of
        the final model is one job. ``None`` means 1 (unless in a
        ``joblib.parallel_config`` context), ``-1`` all processors. The
        seeds of all fits are fixed before any runs, so the result does not
        depend on ``n_jobs``.

    Attributes
    ----------
    estimators_ : list of estimators
        With ``ensemble``: the fold models, one per fold of ``cv`` (their
        first fits, with ``n_fits > 1``).
    calibrations_ : list of CalibrationMap
        With ``ensemble``: the map of each fold model, fitted on its held-out
        PIT values.
    estimator_ : estimator
        Without ``ensemble``: the clone of ``estimator`` fitted on all rows
        (its first fit, with ``n_fits > 1``).
    fits_ : list of lists of estimators
        The fitted clones that predict, ``n_fits`` per model: without
        ``ensemble`` one list, the final model's fits (``fits_[0][0] is
        estimator_``); with it one list per fold (``fits_[k][0] is
        estimators_[k]``).
    calibration_ : CalibrationMap
        Without ``ensemble``: the map, fitted on ``pit_values_`` and
        ``final_pit_values_`` together (with ``discrete``, on the PIT
        intervals of the same rows).
    pit_values_ : ndarray of shape (n_samples,)
        The cross-fitted PIT values of the training rows (with ``discrete``,
        their randomised PIT).
    final_pit_values_ : ndarray of shape (n_held_out,)
        Without ``ensemble``: the PIT values (randomised with ``discrete``)
        of the final model on the training rows its early stopping held out,
        in the order of its ``validation_indices_`` (with ``n_fits > 1``: of
        the final mixture, on the rows that every fit held out, in
        increasing order); empty when there are none or the estimator does
        not say which.
    n_features_in_ : int
        Number of input features (when the estimator records it).

    Examples
    --------
    >>> import numpy as np
    >>> from skebm import DistilledMDNRegressor
    >>> from skebm.calibration import RecalibratedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(300, 1))
    >>> y = np.sin(X[:, 0]) + 0.3 * rng.normal(size=300)
    >>> base = DistilledMDNRegressor(max_epochs=2, hidden_size=8, random_state=0)
    >>> model = RecalibratedRegressor(base, cv=3).fit(X, y)
    >>> model.predict_dist(X[:2]).interval(0.9)[0].shape
    (2,)
    >>> model.pit_values_.shape, type(model.calibration_).__name__
    ((300,), 'CalibrationMap')
    >>> mixture = RecalibratedRegressor(base, cv=3, ensemble=True).fit(X, y)
    >>> len(mixture.estimators_), len(mixture.calibrations_)
    (3, 3)
    >>> two = RecalibratedRegressor(base, cv=3, n_fits=2).fit(X, y)
    >>> first, second = two.fits_[0]  # the second fit's seed is derived from the first's
    >>> first.random_state, second.random_state != first.random_state
    (0, True)

    Integer targets, with the probability of each integer from the CDF:

    >>> ratings = np.rint(3 + 2 * np.sin(X[:, 0]) + rng.normal(size=300))
    >>> rated = RecalibratedRegressor(base, cv=3, discrete=True).fit(X, ratings)
    >>> dist = rated.predict_dist(X[:1])
    >>> k = np.arange(-3.0, 10.0)
    >>> probabilities = dist.cdf(np.full((1, len(k)), k + 0.5)) - dist.cdf(
    ...     np.full((1, len(k)), k - 0.5))
    >>> bool(0.99 < probabilities.sum() <= 1.0)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "cv": ["cv_object"],
        "n_knots": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "ensemble": ["boolean"],
        "discrete": ["boolean"],
        "n_fits": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimator=None, *, cv=10, n_knots="auto", ensemble: bool = False,
                 discrete: bool = False, n_fits: int = 2, n_jobs=None) -> None:
        self.estimator = estimator
        self.cv = cv
        self.n_knots = n_knots
        self.ensemble = ensemble
        self.discrete = discrete
        self.n_fits = n_fits
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the fold models and calibration maps (and, without ``ensemble``, the full model).

        Parameters
        ----------
        X : array-like
            Inputs, as ``estimator`` takes them.
        y : array-like of shape (n_samples,) or (n_samples, 1)
            Targets; integers with ``discrete=True``. With a column vector,
            ``predict`` returns ``(n, 1)`` and ``sample`` ``(n, n_samples, 1)``,
            as skebm's estimators do.
        {sample_weight}
            Rows of weight 0 are removed first (``pit_values_`` holds the
            others); the weights of the other rows go to every fit of the
            estimator (to a Pipeline's last step), which must accept
            ``sample_weight``. The calibration maps are fitted to the
            held-out PIT values with equal weights.

        Returns
        -------
        self : RecalibratedRegressor
            This estimator, fitted.
        """
        y = self._targets(y, reset=True)
        X, y = indexable(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y, dtype=np.float64,
                                                 ensure_non_negative=True)
            kept = np.flatnonzero(sample_weight > 0)
            if len(kept) < len(y):
                X, y, sample_weight = _safe_indexing(X, kept), y[kept], sample_weight[kept]
        ensemble = bool(self.ensemble)
        for stale in ("estimator_", "calibration_", "estimators_", "calibrations_",
                      "final_pit_values_", "fits_"):
            self.__dict__.pop(stale, None)  # a refit with the other `ensemble` leaves none
        estimator = self._base_estimator()
        seed = member_seed(estimator)
        clones = member_clones(estimator, self.n_fits, "n_fits", seed=seed)
        # Continuous targets: each held-out PIT is the point [F(y), F(y)].
        fit_targets, uniforms = dequantise(y, seed) if self.discrete else (y, None)
        lower, upper = np.empty(len(y)), np.empty(len(y))
        folds = list(check_cv(self.cv, y, classifier=False).split(X, y))
        smallest = min(len(test) for _, test in folds)
        if ensemble and smallest < 2:
            raise ValueError(
                f"ensemble=True fits one calibration map per fold, on that fold's held-out "
                f"rows, and needs at least 2 of them; with cv={self.cv!r} on {len(y)} rows a "
                f"fold holds out {smallest}. Use fewer folds or more rows.")
        row_sets = [train for train, _ in folds] + ([] if ensemble else [None])
        fitted = fit_jobs(clones, X, fit_targets, sample_weight, row_sets, self.cv,
                          self.n_jobs)
        fold_maps = []
        for fits, (_, test) in zip(fitted, folds):
            lower[test], upper[test] = self._held_out_pit(fits, _safe_indexing(X, test), y[test])
            if ensemble:
                fold_maps.append(self._map(lower[test], upper[test]))
        self.pit_values_ = lower if uniforms is None else randomised_pit(lower, upper, uniforms)
        if ensemble:
            self.fits_, self.calibrations_ = fitted, fold_maps
            self.estimators_ = [fits[0] for fits in fitted]
        else:
            final_fits = fitted[-1]
            self.fits_, self.estimator_ = [final_fits], final_fits[0]
            # Out of sample for the mixture of the final fits: the rows each of them held out.
            rows = reduce(np.intersect1d, [_early_stopping_rows(fit) for fit in final_fits])
            own_lower = own_upper = np.empty(0)
            if rows.size:
                own_lower, own_upper = self._held_out_pit(final_fits, _safe_indexing(X, rows),
                                                          y[rows])
            self.final_pit_values_ = (own_lower if uniforms is None
                                      else randomised_pit(own_lower, own_upper, uniforms[rows]))
            self.calibration_ = self._map(np.concatenate([lower, own_lower]),
                                          np.concatenate([upper, own_upper]))
        fitted = self.fits_[0][0]
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(fitted, name):
                setattr(self, name, getattr(fitted, name))
        self._sample_seed = seed
        return self

    def _targets(self, y, reset: bool = False) -> np.ndarray:
        """``y`` as float64 ``(n,)`` (integers with ``discrete``); ``reset`` records its axes."""
        targets, ndim = one_dimensional_targets(y)
        if reset:
            self._target_ndim = ndim
        return integer_values(targets) if self.discrete else targets

    def _base_estimator(self):
        """``estimator``, or the default ``DistilledMDNRegressor()`` when it is None."""
        if self.estimator is not None:
            return self.estimator
        from skebm import DistilledMDNRegressor  # skebm imports this module

        return DistilledMDNRegressor()

    def _held_out_pit(self, fits: list, X, y) -> tuple[np.ndarray, np.ndarray]:
        """The PIT interval ``[F(y - 1/2), F(y + 1/2)]`` of integers, else ``[F(y), F(y)]``.

        ``F`` is the CDF of the equal mixture of ``fits``.
        """
        dist = predict_mixture(fits, X)
        if self.discrete:
            return pit_intervals(dist, y)
        values = pit(y, dist)
        return values, values

    def _map(self, lower: np.ndarray, upper: np.ndarray) -> CalibrationMap:
        if self.discrete:
            return CalibrationMap.from_intervals(lower, upper, self.n_knots)
        return CalibrationMap(lower, self.n_knots)

    def predict_dist(self, X) -> RecalibratedDistribution | EqualMixtureDistribution:
        """Recalibrated predictive distributions, one per row of ``X``.

        Parameters
        ----------
        X : array-like
            Inputs.

        Returns
        -------
        RecalibratedDistribution or EqualMixtureDistribution
            Without ``ensemble``, the full model's distributions (the equal
            mixture of its fits' with ``n_fits > 1``) with the calibration map
            applied; with it, the equal-weight mixture of the fold models'
            distributions, each with its own fold's map applied.
        """
        check_is_fitted(self, "pit_values_")
        if hasattr(self, "estimators_"):
            return EqualMixtureDistribution([
                RecalibratedDistribution(predict_mixture(fits, X), calibration)
                for fits, calibration in zip(self.fits_, self.calibrations_)
            ])
        return RecalibratedDistribution(predict_mixture(self.fits_[0], X), self.calibration_)

    def predict(self, X, kind: str = "mean") -> np.ndarray:
        """Point predictions of the recalibrated distributions.

        Parameters
        ----------
        X : array-like
            Inputs.
        kind : {"mean", "median", "mode"}, default="mean"
            The mean, the median or the most likely target of each
            distribution (see the distribution's ``mean``, ``median`` and
            ``mode``).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, 1)
            Float64, in the units of ``y``; ``(n_samples, 1)`` when ``y`` in
            ``fit`` was a column vector.
        """
        points = {"mean": "mean", "median": "median", "mode": "mode"}
        if not isinstance(kind, str) or kind not in points:
            raise ValueError(f"kind must be 'mean', 'median' or 'mode', got {kind!r}.")
        point = getattr(self.predict_dist(X), points[kind])()
        return point[:, None] if self._target_ndim == 2 else point

    def sample(self, X, n_samples: int = 100, random_state=None) -> np.ndarray:
        """Draw from the recalibrated distributions.

        Parameters
        ----------
        X : array-like
            Inputs.
        n_samples : int, default=100
            Samples per row.
        random_state : int, Generator or None, default=None
            Seed of the draws; ``None`` uses a seed fixed at ``fit`` (from the
            wrapped estimator's ``random_state``), so repeated calls agree, as
            with skebm's own estimators.

        Returns
        -------
        ndarray of shape (n_rows, n_samples) or (n_rows, n_samples, 1)
            ``n_samples`` draws for each row of ``X``; the last axis is there
            when ``y`` in ``fit`` was a column vector.
        """
        dist = self.predict_dist(X)
        if random_state is None:
            random_state = self._sample_seed
        draws = dist.sample(n_samples, random_state=random_state)
        return draws[..., None] if self._target_ndim == 2 else draws

    def score(self, X, y, sample_weight=None) -> float:
        """Mean recalibrated log-likelihood of ``y`` given ``X`` (higher is better).

        Parameters
        ----------
        X : array-like
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, 1)
            Targets; integers with ``discrete=True``.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in the mean.

        Returns
        -------
        float
            The (weighted) mean of the recalibrated log-density at ``y``; with
            ``discrete``, of the log-probability ``log P(Y = y)``.
        """
        dist = self.predict_dist(X)
        targets = self._targets(y)
        if self.discrete:
            log_likelihood = interval_log_probability(dist, targets)
        else:
            log_likelihood = dist.logpdf(targets)
        return weighted_mean(log_likelihood, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._base_estimator())
        tags.input_tags = inner.input_tags
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = False
        return tags
