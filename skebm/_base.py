"""scikit-learn plumbing shared by every skebm estimator.

The estimator base class: parameter validation, the fit sequence (inputs,
targets, seeding, the held-out split, the training call, publishing the
fitted state), prediction helpers built on ``predict_dist`` and pickling.
Policies live in their own modules: devices in :mod:`skebm._devices`, targets
in :mod:`skebm._targets`, network building in :mod:`skebm._networks`. The
estimators only say how to build their network, what loss to train and which
distribution to return.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skebm._augmentation import AUGMENTATIONS, augmented_loss
from skebm._batches import InputBatches
from skebm._blocks import predict_points
from skebm._devices import cpu_state, inference_device, loaded_device, resolve_device
from skebm._distributed import ProcessGroup, data_fingerprint
from skebm._docs import fill_shared_docs
from skebm._early_stopping import held_out_rows, uses_early_stopping
from skebm._inputs import input_scaler, model_inputs, validate_inputs
from skebm._migrations import FORMAT_VERSION, UNVERSIONED, check_version, upgrade_state
from skebm._networks import (
    GLOBAL_SEED_LOCK,
    architecture_params,
    auto_hidden_size,
    build_extractor,
    call_extractor,
    changed_architecture,
    resolved_input_bins,
    seeded,
)
from skebm._preprocessing import quantile_bin_edges
from skebm._targets import (
    as_targets,
    check_target_range,
    grid_bounds,
    squeeze,
    target_shape,
    target_standardizer,
)
from skebm._threads import fit_threads, with_fitted_threads
from skebm._training import TrainingConfig, auto_schedule, train
from skebm._validation import IntegerInterval, as_float_array, weighted_mean
from skebm._weights import training_weights
from skebm.distributions import ConditionalDistribution

__all__ = ["BaseProbabilisticRegressor", "auto_hidden_size"]

_GLOBAL_SEED_LOCK = GLOBAL_SEED_LOCK  # estimators that seed a second network hold it too
_SEED_BOUND = 2**31 - 1


@fill_shared_docs
class BaseProbabilisticRegressor(RegressorMixin, BaseEstimator):
    """Common machinery; subclasses implement the abstract hooks below."""

    _parameter_constraints: dict = {
        "feature_extractor": [StrOptions({"auto", "mlp", "cnn", "resnet18"}), type, callable],
        "feature_extractor_kwargs": [dict, None],
        "input_bins": [IntegerInterval(0, None, closed="left"), StrOptions({"auto"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_noise_samples": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "background_weight": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "mixed_precision": ["boolean"],
        "augmentation": [None, StrOptions(AUGMENTATIONS)],
        "n_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    # ------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, input_shape: tuple[int, ...], target_dim: int) -> torch.nn.Module:
        """A fresh network for inputs of ``input_shape`` and d-dimensional targets."""

    @abstractmethod
    def _objective(self, device: torch.device):
        """The training objective, ``(model, batch, generator) -> (loss, parts)``.

        One of :mod:`skebm.objectives` with this estimator's settings bound.
        """

    @abstractmethod
    def _distribution(self, inputs: torch.Tensor,
                      background: bool = True) -> ConditionalDistribution:
        """The predictive distributions for preprocessed inputs.

        ``background=False`` leaves out the background (``background_weight_``)
        and any other share of the predictive mixture fitted after training:
        the network's own distributions, which the held-out checks score.
        """

    # ------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_threads  # torch threads: n_threads, restored afterwards (skebm._threads)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to inputs ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or image array
            Training inputs: a table, or images of shape (n, H, W), (n, H, W, C)
            or (n, C, H, W), uint8 or float (see ``channel_axis`` for the layout).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Training targets.
        {sample_weight}
            Each training epoch visits the rows in proportion to their
            weights (systematic resampling), the early-stopping score is the
            weighted mean held-out log-likelihood, and the target
            standardisation uses the weighted mean and standard deviation.
            The input scaling and the bin edges of the input encoding are
            computed from the rows of positive weight without their weights:
            they only place the inputs where the network resolves them, and
            should cover every row it trains on however rarely it is
            visited. Rules that count rows (``"auto"`` early stopping,
            ``hidden_size`` and ``background_weight``) count the rows of
            positive weight.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If the loss stays non-finite after the learning rate was halved
            repeatedly; the estimator is then left as it was before the call.
        ValueError
            With ``warm_start``, if an architecture parameter changed since the
            first fit or the new targets lie outside the range the network was
            built for (see ``warm_start``).

        Notes
        -----
        Training works on a private copy of the network (with ``warm_start``, a
        copy of the fitted one) and publishes the result, with every other
        fitted attribute, in one step at the end. Predictions running in other
        threads meanwhile use the previous model throughout, never a
        half-trained one.

        Training and prediction use ``n_threads_`` torch intra-op threads
        (see ``n_threads``) and restore torch's own setting afterwards.
        ``"auto"`` never exceeds ``torch.get_num_threads()``: in
        scikit-learn's parallel tools (``cross_validate(n_jobs=k)``,
        ``GridSearchCV(n_jobs=k)``) the default loky backend starts each worker
        with ``OMP_NUM_THREADS`` set to ``cpu_count // k`` (unless it is already
        set), which torch reads, so the workers share the cores instead of
        oversubscribing them.
        """
        draft = self._shallow_copy()
        draft._fit(X, y, sample_weight)
        self.__dict__ = draft.__dict__  # one assignment publishes the whole fitted state
        return self

    def _fit(self, X, y, sample_weight=None) -> None:
        """Fit this (private) copy of the estimator; see :meth:`fit`."""
        self.device_ = resolve_device(self.device)
        group = ProcessGroup.current(self.device_)
        if group is None:
            X, targets, weights, rows, reuse = self._prepare(X, y, sample_weight)
        else:  # a bad input on one rank stops every rank (skebm._distributed)
            self.device_ = group.local_device(self.device_)
            X, targets, weights, rows, reuse = group.agree(
                lambda: self._prepare(X, y, sample_weight),
                lambda prepared: data_fingerprint(*prepared[:3]))
        self.world_size_ = 1 if group is None else group.world_size
        seeds = check_random_state(self.random_state).randint(_SEED_BOUND, size=3)
        if group is not None:  # rank 0's: with random_state=None each rank draws its own
            seeds = group.broadcast_object(seeds)
        self._inference_seed = int(seeds[2])
        inputs = model_inputs(self._input_scaler, X)
        standard_targets = torch.from_numpy(
            ((targets - self._target_scaler.mean) / self._target_scaler.scale).astype(np.float32)
        )
        if reuse:  # the published network is never trained in place
            self.module_ = copy.deepcopy(self.module_)
        else:
            with seeded(int(seeds[0])):
                self.module_ = self._build_module(tuple(inputs.shape[1:]), self._target_dim)
        self.module_.to(self.device_)
        weight_tensor = None if weights is None else torch.from_numpy(weights)
        history = self._train(inputs, standard_targets, int(seeds[1]), weight_tensor)
        if rows is not None:  # indices of the rows passed to fit
            self.validation_indices_ = rows[self.validation_indices_]
        self.n_iter_ = len(history)
        # A warm start continues the epoch count and the history, as in skorch.
        previous = self.history_ if reuse else []
        self.history_ = previous + [
            {**record, "epoch": len(previous) + record["epoch"]} for record in history
        ]

    def _prepare(self, X, y, sample_weight):
        """Validate the data and set the preprocessing; ``(X, targets, weights, rows, reuse)``.

        ``targets`` are ``(n, d)``; rows of zero weight are removed (``rows``
        holds the indices of the others, or is ``None``).
        """
        self._check_extra_params()
        reuse = self.warm_start and hasattr(self, "module_")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        if np.asarray(y).dtype.kind in "US":  # numbers written as text, as sklearn accepts
            y = as_float_array(y, "y", parse_strings=True)
        X, y = validate_inputs(self, X, y, reset=not reuse)
        rows, weights = training_weights(sample_weight, X)
        if rows is not None:  # rows of zero weight are removed before anything is computed
            X, y = X[rows], y[rows]
        targets = y.reshape(len(y), -1)
        if reuse:
            self._check_warm_start(targets)
        else:
            self._architecture = architecture_params(self)
            self._target_ndim = y.ndim
            self._target_dim = targets.shape[1]
            self._input_scaler = input_scaler(X)
            self.input_bins_ = resolved_input_bins(self.input_bins, self.feature_extractor,
                                                   X.ndim)
            self._input_bin_edges = (quantile_bin_edges(self._input_scaler.transform(X),
                                                        self.input_bins_)
                                     if self.input_bins_ else None)
            self._target_scaler = target_standardizer(targets, weights)
            self._grid_bounds = grid_bounds(
                (targets - self._target_scaler.mean) / self._target_scaler.scale)
            self.hidden_size_ = (auto_hidden_size(len(targets)) if self.hidden_size == "auto"
                                 else int(self.hidden_size))
        self.background_weight_ = (1.0 / (len(targets) + 1.0) if self.background_weight == "auto"
                                   else float(self.background_weight))
        return X, targets, weights, rows, reuse

    def _check_warm_start(self, targets: np.ndarray) -> None:
        """Refuse a warm start that would silently keep an outdated network or target range."""
        if targets.shape[1] != self._target_dim:
            raise ValueError(
                f"warm_start fit got {targets.shape[1]} target columns, "
                f"the model was fitted with {self._target_dim}."
            )
        changed = changed_architecture(self, self._architecture)
        if changed:
            raise ValueError(
                f"warm_start=True cannot change {', '.join(changed)}: the fitted network was "
                "built with other values. Restore them, or set warm_start=False to fit a new "
                "network."
            )
        check_target_range(targets, self._target_scaler, self._grid_bounds)

    def _train(self, inputs: InputBatches, targets: torch.Tensor, seed: int,
               sample_weight: torch.Tensor | None = None) -> list[dict]:
        group = ProcessGroup.current(self.device_)
        generator = torch.Generator().manual_seed(seed)
        device_generator = torch.Generator(device=self.device_).manual_seed(seed + 1)
        validation_score, n_iter_no_change, held_out = None, None, None
        self.validation_indices_ = np.empty(0, dtype=np.intp)
        if uses_early_stopping(self.early_stopping, self.validation_fraction, inputs.shape[0]):
            inputs, targets, sample_weight, validation_score, held_out, \
                self.validation_indices_ = self._split_validation(inputs, targets, generator,
                                                                  sample_weight)
            n_iter_no_change = self.n_iter_no_change
        max_epochs, validation_period = self.max_epochs, 1
        if max_epochs == "auto":
            max_epochs, validation_period = auto_schedule(inputs.shape[0], self.batch_size)
        config = TrainingConfig(
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            n_iter_no_change=n_iter_no_change,
            verbose=self.verbose if group is None or group.rank == 0 else 0,
            weight_decay=self.weight_decay,
            validation_period=validation_period,
        )
        batch_loss = self._batch_loss(self.module_, device_generator)
        if self.augmentation is not None:
            augmentation_generator = torch.Generator(device=self.device_).manual_seed(seed + 3)
            batch_loss = augmented_loss(batch_loss, self.augmentation, augmentation_generator)
        history = train(self.module_, batch_loss, inputs, targets, config, generator,
                        self.device_, validation_score, self._trained_extractors(),
                        sample_weight, group)
        self._fit_predictive_mixture(held_out)
        return history

    def _fit_predictive_mixture(self, held_out: tuple | None) -> None:
        """Set the fitted weights of the predictive mixture, after training.

        ``held_out`` is ``(inputs, targets, weights)`` of the early-stopping
        rows (targets in user units, ``(n, d)``; weights ``(n,)`` or ``None``
        for equal weights), or ``None`` when no rows were held out. The base
        class has no such weights.
        """

    def _trained_extractors(self) -> list[torch.nn.Module]:
        """The trained modules that read the inputs alone (for batch-norm statistics)."""
        return [self.module_.extractor]

    def _batch_loss(self, module: torch.nn.Module, generator: torch.Generator):
        """``(inputs, targets) -> (loss, parts)`` for one standardised minibatch."""
        objective = self._objective(generator.device)
        return lambda inputs, targets: objective(module, (inputs, targets), generator)

    def _split_validation(self, inputs, targets, generator, sample_weight=None):
        held_out, kept = held_out_rows(inputs.shape[0], self.validation_fraction, generator)
        scaler = self._target_scaler
        held_out_targets = targets[held_out].double().numpy() * scaler.scale + scaler.mean

        held_out_weights = (None if sample_weight is None
                            else sample_weight[held_out].numpy())

        def validation_score() -> float:
            # The bare network: over-fitting shows as held-out rows it deems impossible,
            # the very signal the background would hide.
            dist = self._distribution(inputs[held_out], background=False)
            return weighted_mean(dist.logpdf(squeeze(held_out_targets)), held_out_weights)

        return (inputs[kept], targets[kept],
                None if sample_weight is None else sample_weight[kept], validation_score,
                (inputs[held_out], held_out_targets, held_out_weights),
                np.sort(held_out.numpy()).astype(np.intp))

    def _check_extra_params(self) -> None:
        """Hook for checks that need more than ``_parameter_constraints``."""

    # ------------------------------------------------------------ predict
    def _shallow_copy(self):
        """A private copy sharing every attribute: a consistent view of the fitted state.

        Copying the attribute dictionary is one step for other threads, so the
        copy never mixes attributes of two fits.
        """
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        return view

    def _fitted_distribution(self, X):
        """A consistent view of the fitted estimator and its distributions for ``X``."""
        fitted, inputs = self._fitted_inputs(X)
        return fitted, fitted._distribution(inputs)

    def _fitted_inputs(self, X):
        """A consistent view of the fitted estimator and the model inputs of ``X``."""
        check_is_fitted(self)
        fitted = self._shallow_copy()
        X = validate_inputs(fitted, X, reset=False)
        fitted._use_inference_device()
        return fitted, model_inputs(fitted._input_scaler, X)

    @with_fitted_threads
    def predict_dist(self, X) -> ConditionalDistribution:
        """Predictive distributions p(y | x), one per row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ConditionalDistribution
            A batch of ``n_samples`` distributions with ``mean``, ``var``,
            ``std``, ``logpdf``, ``pdf``, ``cdf``, ``ppf``, ``interval`` and
            ``sample``; indexable like an array. Later fits do not change it.
        """
        return self._fitted_distribution(X)[1]

    @with_fitted_threads
    def predict(self, X, kind: str = "mean") -> np.ndarray:
        """Point predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        kind : {"mean", "median", "mode"}, default="mean"
            ``"mean"`` gives the conditional mean, ``"median"`` the median of
            each target's marginal, ``"mode"`` the most likely target (see the
            distribution's ``mode``).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Float64, in the units of ``y``; the shape follows ``y`` in ``fit``.
        """
        if kind not in ("mean", "median", "mode"):
            raise ValueError(f"kind must be 'mean', 'median' or 'mode', got {kind!r}.")
        fitted, inputs = self._fitted_inputs(X)
        point = predict_points(fitted._distribution, inputs, kind)  # memory bounded by a block
        return target_shape(point, fitted._target_ndim)

    @with_fitted_threads
    def sample(self, X, n_samples: int = 100, random_state=None) -> np.ndarray:
        """Draw samples from p(y | x) for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Inputs.
        n_samples : int, default=100
            Samples per row.
        random_state : int, Generator or None, default=None
            Seed of the draws; ``None`` uses a seed fixed at ``fit`` (from the
            estimator's ``random_state``), so repeated calls agree.

        Returns
        -------
        ndarray of shape (n_rows, n_samples) or (n_rows, n_samples, n_targets)
            The draws of each row, in the units of ``y``; the last axis is
            there when ``y`` in ``fit`` was 2-D, also with one column (as
            ``predict``'s shape follows ``y``).
        """
        fitted, dist = self._fitted_distribution(X)
        if random_state is None:
            random_state = fitted._inference_seed
        draws = dist.sample(n_samples, random_state=random_state)
        return draws[..., None] if fitted._target_ndim == 2 and draws.ndim == 2 else draws

    @with_fitted_threads
    def score(self, X, y, sample_weight=None) -> float:
        """Mean conditional log-likelihood of ``y`` given ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in the mean.

        Returns
        -------
        float
            ``mean_i log p(y_i | x_i)``; for R² use ``scoring="r2"``. ``-inf``
            if some target of positive weight has zero density; never NaN or
            ``+inf``.
        """
        fitted, dist = self._fitted_distribution(X)
        targets = as_targets(y, len(dist), fitted._target_dim)
        return weighted_mean(dist.logpdf(squeeze(targets)), sample_weight)

    # ------------------------------------------------------------ helpers
    def _extractor(self, input_shape: tuple[int, ...]) -> torch.nn.Module:
        """A new feature extractor (see :func:`skebm._networks.build_extractor`)."""
        return build_extractor(self.feature_extractor, self.feature_extractor_kwargs,
                               input_shape, self.hidden_size_, self._input_bin_edges,
                               self.mixed_precision)

    def _call_extractor(self, factory, *args, **kwargs) -> torch.nn.Module:
        """Call an extractor factory, naming the parameters when the keywords do not fit."""
        return call_extractor(self.feature_extractor, self.feature_extractor_kwargs, factory,
                              *args, **kwargs)

    def _use_inference_device(self) -> None:
        """Predict on the CPU, with a warning, if CUDA is gone; only a private view calls this."""
        self.device_ = inference_device(self.device_, stacklevel=4)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
        tags.input_tags.three_d_array = True  # image batches (n, H, W)
        return tags

    # ------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        # Every network and tensor goes to the CPU, so a model fitted on a GPU loads anywhere.
        state = cpu_state(super().__getstate__())  # a copy: the default is the live __dict__
        state["_skebm_pickle_format"] = FORMAT_VERSION
        return state

    def __setstate__(self, state: dict) -> None:
        version = check_version(state.pop("_skebm_pickle_format", UNVERSIONED), "pickle")
        fitted = "module_" in state
        upgrade_state(state, version, self._get_param_names(), fitted)  # older models as they were
        if fitted:
            state["device_"] = loaded_device(state.get("device_"))
        super().__setstate__(state)
        if fitted:
            self.module_.to(self.device_)

