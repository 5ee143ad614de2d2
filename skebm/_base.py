"""scikit-learn plumbing shared by every skebm estimator.

Validation, standardisation, device choice, seeding, the training call,
prediction helpers built on ``predict_dist`` and CPU-safe pickling live here
once; the estimators only say how to build their network, what loss to train
and which distribution to return.
"""

from __future__ import annotations

import copy
import threading
import warnings
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
from skebm._docs import fill_shared_docs
from skebm._inputs import input_scaler, model_inputs, validate_inputs
from skebm._migrations import FORMAT_VERSION, UNVERSIONED, check_version, upgrade_state
from skebm._preprocessing import Standardizer, quantile_bin_edges
from skebm._training import TrainingConfig, auto_schedule, train
from skebm._validation import IntegerInterval, as_float_array, weighted_mean
from skebm._weights import training_weights, weighted_moments
from skebm.distributions import ConditionalDistribution
from skebm.exceptions import DeviceWarning
from skebm.nn import EncodedExtractor, PiecewiseLinearEncoding
from skebm.nn.extractors import AutocastExtractor, check_extractor, instantiate_extractor

__all__ = ["BaseProbabilisticRegressor"]

MIN_AUTO_VALIDATION_ROWS = 20
"""Fewest held-out rows with which ``early_stopping="auto"`` holds rows out."""
_AUTO_WIDTH_ROWS = 4000
"""Training rows beyond which ``hidden_size="auto"`` is 64 instead of 32."""
# Seeded initialisation uses torch's global generator: one thread at a time, so that
# fits in threads (joblib's threading or dask backends) stay reproducible.
_GLOBAL_SEED_LOCK = threading.Lock()
_SEED_BOUND = 2**31 - 1
_RELATIVE_SCALE_FLOOR = 1e-10
"""Smallest target scale, relative to the targets' mean magnitude (see ``_target_standardizer``)."""
AUTO_INPUT_BINS = 8
"""Bins per column of ``input_bins="auto"`` (tables read by the built-in MLP)."""
_ARCHITECTURE_PARAMS = ("feature_extractor", "feature_extractor_kwargs", "input_bins",
                        "hidden_size", "n_components", "mixed_precision", "channel_axis")


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

        Training uses torch's intra-op thread pool (``torch.get_num_threads()``).
        In scikit-learn's parallel tools (``cross_validate(n_jobs=k)``,
        ``GridSearchCV(n_jobs=k)``) the default loky backend starts each worker
        with ``OMP_NUM_THREADS`` set to ``cpu_count // k`` (unless it is already
        set), which torch reads, so the workers share the cores instead of
        oversubscribing them. Threads are not limited with the
        ``"threading"`` backend, whose workers share one torch thread pool: call
        ``torch.set_num_threads`` yourself there.
        """
        draft = self._shallow_copy()
        draft._fit(X, y, sample_weight)
        self.__dict__ = draft.__dict__  # one assignment publishes the whole fitted state
        return self

    def _fit(self, X, y, sample_weight=None) -> None:
        """Fit this (private) copy of the estimator; see :meth:`fit`."""
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
            self._architecture = self._architecture_params()
            self._target_ndim = y.ndim
            self._target_dim = targets.shape[1]
            self._input_scaler = input_scaler(X)
            self.input_bins_ = self._resolved_input_bins(X.ndim)
            self._input_bin_edges = (quantile_bin_edges(self._input_scaler.transform(X),
                                                        self.input_bins_)
                                     if self.input_bins_ else None)
            self._target_scaler = _target_standardizer(targets, weights)
            standard = (targets - self._target_scaler.mean) / self._target_scaler.scale
            margin = max(1.0, 0.1 * float(np.ptp(standard)))
            self._grid_bounds = (float(standard.min()) - margin, float(standard.max()) + margin)
            self.hidden_size_ = (auto_hidden_size(len(targets)) if self.hidden_size == "auto"
                                 else int(self.hidden_size))
        self.background_weight_ = (1.0 / (len(targets) + 1.0) if self.background_weight == "auto"
                                   else float(self.background_weight))
        seeds = check_random_state(self.random_state).randint(_SEED_BOUND, size=3)
        self._inference_seed = int(seeds[2])
        self.device_ = _resolve_device(self.device)
        inputs = model_inputs(self._input_scaler, X)
        standard_targets = torch.from_numpy(
            ((targets - self._target_scaler.mean) / self._target_scaler.scale).astype(np.float32)
        )
        if reuse:  # the published network is never trained in place
            self.module_ = copy.deepcopy(self.module_)
        else:
            with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seeds[0]))
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

    def _architecture_params(self) -> dict:
        """The parameters that shape the network, which a warm start cannot change.

        A module instance is recorded by its type: holding on to it would keep
        its tensors (perhaps on a GPU) in the pickled estimator.
        """
        return {name: type(value) if isinstance(value, torch.nn.Module) else value
                for name in _ARCHITECTURE_PARAMS if hasattr(self, name)
                for value in [getattr(self, name)]}

    def _check_warm_start(self, targets: np.ndarray) -> None:
        """Refuse a warm start that would silently keep an outdated network or target range."""
        if targets.shape[1] != self._target_dim:
            raise ValueError(
                f"warm_start fit got {targets.shape[1]} target columns, "
                f"the model was fitted with {self._target_dim}."
            )
        fitted_with = self._architecture  # None in models pickled before it existed
        changed = [] if fitted_with is None else [
            name for name, value in self._architecture_params().items()
            if not _same_value(value, fitted_with.get(name))
        ]
        if changed:
            raise ValueError(
                f"warm_start=True cannot change {', '.join(changed)}: the fitted network was "
                "built with other values. Restore them, or set warm_start=False to fit a new "
                "network."
            )
        scaler = self._target_scaler
        standard = (targets - scaler.mean) / scaler.scale
        low, high = self._grid_bounds
        if standard.min() < low or standard.max() > high:
            raise ValueError(
                "warm_start=True keeps the target scaling and range of the first fit, and "
                f"these targets reach [{float(targets.min()):.6g}, {float(targets.max()):.6g}], "
                "outside the range it covers "
                f"[{_user(low, scaler):.6g}, {_user(high, scaler):.6g}]; the network cannot "
                "represent them. Set warm_start=False to fit on the new range."
            )

    def _train(self, inputs: InputBatches, targets: torch.Tensor, seed: int,
               sample_weight: torch.Tensor | None = None) -> list[dict]:
        generator = torch.Generator().manual_seed(seed)
        device_generator = torch.Generator(device=self.device_).manual_seed(seed + 1)
        validation_score, n_iter_no_change, held_out = None, None, None
        self.validation_indices_ = np.empty(0, dtype=np.intp)
        if self._uses_early_stopping(inputs.shape[0]):
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
            verbose=self.verbose,
            weight_decay=self.weight_decay,
            validation_period=validation_period,
        )
        batch_loss = self._batch_loss(self.module_, device_generator)
        if self.augmentation is not None:
            augmentation_generator = torch.Generator(device=self.device_).manual_seed(seed + 3)
            batch_loss = augmented_loss(batch_loss, self.augmentation, augmentation_generator)
        history = train(self.module_, batch_loss, inputs, targets, config, generator,
                        self.device_, validation_score, self._trained_extractors(),
                        sample_weight)
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

    def _uses_early_stopping(self, n_rows: int) -> bool:
        """Whether this fit holds out rows; ``"auto"`` does when enough rows would be held out."""
        if isinstance(self.early_stopping, str):  # "auto"
            return round(self.validation_fraction * n_rows) >= MIN_AUTO_VALIDATION_ROWS
        return bool(self.early_stopping)

    def _batch_loss(self, module: torch.nn.Module, generator: torch.Generator):
        """``(inputs, targets) -> (loss, parts)`` for one standardised minibatch."""
        objective = self._objective(generator.device)
        return lambda inputs, targets: objective(module, (inputs, targets), generator)

    def _split_validation(self, inputs, targets, generator, sample_weight=None):
        n_rows = inputs.shape[0]
        n_validation = int(round(self.validation_fraction * n_rows))
        if n_validation < 1 or n_validation >= n_rows:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no validation or no "
                f"training rows out of {n_rows}; use more data or early_stopping=False."
            )
        order = torch.randperm(n_rows, generator=generator)
        held_out, kept = order[:n_validation], order[n_validation:]
        scaler = self._target_scaler
        held_out_targets = targets[held_out].double().numpy() * scaler.scale + scaler.mean

        held_out_weights = (None if sample_weight is None
                            else sample_weight[held_out].numpy())

        def validation_score() -> float:
            # The bare network: over-fitting shows as held-out rows it deems impossible,
            # the very signal the background would hide.
            dist = self._distribution(inputs[held_out], background=False)
            return weighted_mean(dist.logpdf(_squeeze(held_out_targets)), held_out_weights)

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
        check_is_fitted(self)
        fitted = self._shallow_copy()
        X = validate_inputs(fitted, X, reset=False)
        fitted._use_inference_device()
        return fitted, fitted._distribution(model_inputs(fitted._input_scaler, X))

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

    def predict(self, X, kind: str = "mean") -> np.ndarray:
        """Point predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        kind : {"mean", "mode"}, default="mean"
            ``"mean"`` gives the conditional mean, ``"mode"`` the most likely
            target (see the distribution's ``mode``).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Float64, in the units of ``y``; the shape follows ``y`` in ``fit``.
        """
        if kind not in ("mean", "mode"):
            raise ValueError(f"kind must be 'mean' or 'mode', got {kind!r}.")
        fitted, dist = self._fitted_distribution(X)
        point = dist.mean() if kind == "mean" else dist.mode()
        return fitted._target_shape(point)

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
        targets = _as_targets(y, len(dist), fitted._target_dim)
        return weighted_mean(dist.logpdf(_squeeze(targets)), sample_weight)

    # ------------------------------------------------------------ helpers
    def _target_shape(self, point: np.ndarray) -> np.ndarray:
        n_rows = point.shape[0]
        return point.reshape(n_rows) if self._target_ndim == 1 else point.reshape(n_rows, -1)

    def _extractor(self, input_shape: tuple[int, ...]) -> torch.nn.Module:
        """A new feature extractor; ``"auto"`` is an MLP for tables, the small CNN for images."""
        kwargs = dict(self.feature_extractor_kwargs or {})
        extractor = self.feature_extractor
        if isinstance(extractor, str) and extractor == "auto":
            extractor = "mlp" if len(input_shape) == 1 else "cnn"
        if isinstance(extractor, str) and extractor == "mlp":
            # The extractor runs once per row, the heads once per (row, sample): width is
            # cheap here, so the default MLP is four times as wide as the heads.
            kwargs.setdefault("hidden_sizes", (4 * self.hidden_size_, 4 * self.hidden_size_))
        edges = self._input_bin_edges
        encoding = None
        if edges is not None:
            encoding = PiecewiseLinearEncoding([torch.from_numpy(column) for column in edges])
            input_shape = (input_shape[0] + encoding.out_features,)
        module = self._call_extractor(instantiate_extractor, extractor, input_shape, **kwargs)
        module = check_extractor(module, input_shape)
        if encoding is not None:
            module = EncodedExtractor(encoding, module)
        return AutocastExtractor(module) if self.mixed_precision else module

    def _resolved_input_bins(self, input_ndim: int) -> int:
        """Bins per column of the input encoding (0: none) for inputs of ``input_ndim`` axes."""
        table = input_ndim == 2
        if self.input_bins == "auto":
            built_in_mlp = (isinstance(self.feature_extractor, str)
                            and self.feature_extractor in ("auto", "mlp"))
            return AUTO_INPUT_BINS if table and built_in_mlp else 0
        if self.input_bins and not table:
            raise ValueError(
                f"input_bins={self.input_bins} encodes the columns of a table, but X holds "
                "images; use input_bins=0 or 'auto' for images."
            )
        return int(self.input_bins)

    def _call_extractor(self, factory, *args, **kwargs) -> torch.nn.Module:
        """Call an extractor factory, naming the parameters when the keywords do not fit."""
        try:
            return factory(*args, **kwargs)
        except TypeError as error:
            raise TypeError(
                f"feature_extractor={self.feature_extractor!r} does not accept "
                f"feature_extractor_kwargs={self.feature_extractor_kwargs!r}: {error}"
            ) from error

    def _use_inference_device(self) -> None:
        """Predict on the CPU, with a warning, if CUDA is gone; only a private view calls this."""
        if self.device_.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                "This model was fitted on CUDA, which is not available here; using the CPU.",
                DeviceWarning,
                stacklevel=4,
            )
            self.device_ = torch.device("cpu")

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
        state = dict(super().__getstate__())  # a copy: the default state is the live __dict__
        # Every network and tensor goes to the CPU, so a model fitted on a GPU
        # loads anywhere. One deepcopy keeps modules shared between attributes shared.
        on_device = {name: value for name, value in state.items()
                     if isinstance(value, (torch.nn.Module, torch.Tensor))}
        state.update({name: value.cpu() for name, value in copy.deepcopy(on_device).items()})
        state["_skebm_pickle_format"] = FORMAT_VERSION
        return state

    def __setstate__(self, state: dict) -> None:
        version = check_version(state.pop("_skebm_pickle_format", UNVERSIONED), "pickle")
        fitted = "module_" in state
        upgrade_state(state, version, self._get_param_names(), fitted)  # older models as they were
        if fitted:
            state["device_"] = _loaded_device(state.get("device_"))
        super().__setstate__(state)
        if fitted:
            self.module_.to(self.device_)


def _loaded_device(saved) -> torch.device:
    """Where an unpickled network goes: its fitting device if usable here, else the CPU."""
    device = torch.device("cpu") if saved is None else torch.device(saved)
    if device.type != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        warnings.warn(
            "This model was fitted on CUDA, which is not available here; it was loaded on "
            "the CPU.",
            DeviceWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        return torch.device("cuda")
    return device


def auto_hidden_size(n_rows: int) -> int:
    """The width ``hidden_size="auto"`` gives a fit on ``n_rows`` rows.

    32 up to 4000 rows, 64 beyond: about ``32 * sqrt(n_rows / 2000)`` as a
    power of two, so that the number of weights (quadratic in the width)
    grows with the rows, capped at 64 (width 128 measured no better than 64
    on 20 000 synthetic rows and fitted 2.3 times slower; see
    ``benchmarks/archive/width.py``).

    Parameters
    ----------
    n_rows : int
        Training rows passed to ``fit``.

    Returns
    -------
    int
        The width of the heads' hidden layers.
    """
    return 64 if n_rows > _AUTO_WIDTH_ROWS else 32


def _resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a usable ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {device!r}.")
    return resolved


def _as_targets(y, n_rows: int, target_dim: int) -> np.ndarray:
    """Validate targets passed to ``score`` and return them as ``(n, d)`` float64."""
    values = as_float_array(y, "y", finite=True, parse_strings=True)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"y must have shape (n_samples,) or (n_samples, n_targets), got {values.shape}."
        )
    values = values.reshape(values.shape[0], -1)
    if values.shape != (n_rows, target_dim):
        raise ValueError(
            f"y has {values.shape[0]} rows and {values.shape[1]} target columns; expected "
            f"{n_rows} rows and {target_dim} columns."
        )
    return values


def _target_standardizer(targets: np.ndarray, weights: np.ndarray | None = None) -> Standardizer:
    """Standardisation of the targets, with a scale no smaller than their magnitude allows.

    With ``weights``, the mean and standard deviation are the weighted ones
    (a row of weight 2 counts as two copies of it).

    Float64 resolves about 16 digits, so targets near 1e18 are represented only
    in steps of 128. A scale of at least ``_RELATIVE_SCALE_FLOOR * |mean|``
    keeps the grid, the mixture widths and everything else computed in user
    units well above that step. Constant targets get that scale. Targets that
    vary, but by less than half of it, would be squeezed into a small part of
    the standardised range the networks are built for, and the fitted
    densities would be far too wide: they are refused with advice instead.
    """
    scaler = Standardizer(targets)
    if weights is not None:
        scaler.mean, scale = weighted_moments(targets, weights)
        scaler.scale = np.where(scaler.constant, 1.0, scale)
    floor = _RELATIVE_SCALE_FLOOR * np.abs(scaler.mean)
    squeezed = ~scaler.constant & (scaler.scale < 0.5 * floor)
    if np.any(squeezed):
        column = int(np.flatnonzero(squeezed)[0])
        raise ValueError(
            f"y varies too little for its magnitude: target column {column} has standard "
            f"deviation {scaler.scale[column]:.3g} around {scaler.mean[column]:.6g}, less than "
            f"{0.5 * _RELATIVE_SCALE_FLOOR:.0e} of it, which float64 densities in the units of y "
            f"cannot resolve. Subtract a constant from y (e.g. {scaler.mean[column]:.6g}) before "
            "fitting, and add it back to predictions.")
    scaler.scale = np.maximum(scaler.scale, floor)
    return scaler


def _user(standard: float, scaler: Standardizer) -> float:
    """A standardised bound in the units of the first target column."""
    return float(standard * scaler.scale[0] + scaler.mean[0])


def _same_value(first, second) -> bool:
    """Equality that tolerates values whose ``==`` is not a bool (tensors, arrays)."""
    if first is second:
        return True
    try:
        return bool(first == second)
    except (TypeError, ValueError, RuntimeError):
        return False


def _squeeze(targets: np.ndarray) -> np.ndarray:
    """``(n, 1)`` targets as ``(n,)``, the one-point-per-row form of ``logpdf``."""
    return targets[:, 0] if targets.shape[1] == 1 else targets
