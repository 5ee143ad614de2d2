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
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from skebm._inputs import input_scaler, validate_inputs
from skebm._preprocessing import Standardizer
from skebm._training import TrainingConfig, auto_schedule, train
from skebm.distributions import ConditionalDistribution
from skebm.exceptions import DeviceWarning, TrainingDivergedError
from skebm.nn import AutocastExtractor, check_extractor, instantiate_extractor

__all__ = ["BaseProbabilisticRegressor"]

PICKLE_FORMAT_VERSION = 1
# Seeded initialisation uses torch's global generator: one thread at a time, so that
# fits in threads (joblib's threading or dask backends) stay reproducible.
_GLOBAL_SEED_LOCK = threading.Lock()
_SEED_BOUND = 2**31 - 1


class BaseProbabilisticRegressor(RegressorMixin, BaseEstimator):
    """Common machinery; subclasses implement the abstract hooks below."""

    _parameter_constraints: dict = {
        "feature_extractor": [StrOptions({"auto", "mlp", "cnn", "resnet18"}), type, callable],
        "feature_extractor_kwargs": [dict, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_noise_samples": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "mixed_precision": ["boolean"],
    }

    # ------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, input_shape: tuple[int, ...], target_dim: int) -> torch.nn.Module:
        """A fresh network for inputs of ``input_shape`` and d-dimensional targets."""

    @abstractmethod
    def _batch_loss(self, module: torch.nn.Module, generator: torch.Generator):
        """``(inputs, targets) -> (loss, parts)`` for one standardised minibatch."""

    @abstractmethod
    def _distribution(self, inputs: torch.Tensor) -> ConditionalDistribution:
        """The predictive distributions for preprocessed inputs."""

    # ------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to inputs ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or image array
            Training inputs: a table, or images of shape (n, H, W), (n, H, W, C)
            or (n, C, H, W), uint8 or float (see ``channel_axis`` for the layout).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Training targets.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If the loss stays non-finite after the learning rate was halved
            repeatedly; the estimator is then left unfitted (or, with
            ``warm_start``, at its last finite state).

        Notes
        -----
        Training uses torch's intra-op thread pool (``torch.get_num_threads()``).
        In scikit-learn's parallel tools (``cross_validate(n_jobs=k)``,
        ``GridSearchCV(n_jobs=k)``) the default loky backend starts each worker
        with ``OMP_NUM_THREADS`` set to ``cpu_count // k`` (unless it is already
        set), which torch reads, so the workers share the cores instead of
        oversubscribing them. Threads are not limited with the
        ``"threading"`` backend, whose workers share one torch thread pool: call
        ``torch.set_num_threads`` yourself there.
        """
        self._check_extra_params()
        reuse = self.warm_start and hasattr(self, "module_")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        X, y = validate_inputs(self, X, y, reset=not reuse)
        targets = y.reshape(len(y), -1)
        if reuse and targets.shape[1] != self._target_dim:
            raise ValueError(
                f"warm_start fit got {targets.shape[1]} target columns, "
                f"the model was fitted with {self._target_dim}."
            )
        if not reuse:
            self._target_ndim = y.ndim
            self._target_dim = targets.shape[1]
            self._input_scaler = input_scaler(X)
            self._target_scaler = Standardizer(targets)
            standard = (targets - self._target_scaler.mean) / self._target_scaler.scale
            margin = max(1.0, 0.1 * float(np.ptp(standard)))
            self._grid_bounds = (float(standard.min()) - margin, float(standard.max()) + margin)
        seeds = check_random_state(self.random_state).randint(_SEED_BOUND, size=3)
        self._inference_seed = int(seeds[2])
        self.device_ = _resolve_device(self.device)
        inputs = self._input_scaler.transform(X)
        standard_targets = torch.from_numpy(
            ((targets - self._target_scaler.mean) / self._target_scaler.scale).astype(np.float32)
        )
        if not reuse:
            with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seeds[0]))
                self.module_ = self._build_module(tuple(inputs.shape[1:]), self._target_dim)
        self.module_.to(self.device_)
        try:
            history = self._train(inputs, standard_targets, int(seeds[1]))
        except TrainingDivergedError:
            if not reuse:  # leave no half-trained network behind to predict with
                del self.module_
            raise
        self.n_iter_ = len(history)
        # A warm start continues the epoch count and the history, as in skorch.
        previous = self.history_ if reuse else []
        self.history_ = previous + [
            {**record, "epoch": len(previous) + record["epoch"]} for record in history
        ]
        return self

    def _train(self, inputs: torch.Tensor, targets: torch.Tensor, seed: int) -> list[dict]:
        generator = torch.Generator().manual_seed(seed)
        device_generator = torch.Generator(device=self.device_).manual_seed(seed + 1)
        validation_score, n_iter_no_change = None, None
        if self.early_stopping:
            inputs, targets, validation_score = self._split_validation(inputs, targets, generator)
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
        return train(self.module_, self._batch_loss(self.module_, device_generator), inputs,
                     targets, config, generator, self.device_, validation_score)

    def _split_validation(self, inputs, targets, generator):
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

        def validation_score() -> np.ndarray:
            dist = self._validation_distribution(inputs[held_out])
            return dist.logpdf(_squeeze(held_out_targets))  # per row: mean and its error

        return inputs[kept], targets[kept], validation_score

    def _validation_distribution(self, inputs: torch.Tensor) -> ConditionalDistribution:
        """The distributions scored for early stopping; may be cheaper than ``_distribution``."""
        return self._distribution(inputs)

    def _check_extra_params(self) -> None:
        """Hook for checks that need more than ``_parameter_constraints``."""

    # ------------------------------------------------------------ predict
    def _prepare_inputs(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_inputs(self, X, reset=False)
        self._use_inference_device()
        return self._input_scaler.transform(X)

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
            ``sample``; indexable like an array.
        """
        return self._distribution(self._prepare_inputs(X))

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
        dist = self.predict_dist(X)
        point = dist.mean() if kind == "mean" else dist.mode()
        return self._target_shape(point)

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
        """
        dist = self.predict_dist(X)
        if random_state is None:
            random_state = self._inference_seed
        return dist.sample(n_samples, random_state=random_state)

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
            ``mean_i log p(y_i | x_i)``; for R² use ``scoring="r2"``.
        """
        dist = self.predict_dist(X)
        targets = _as_targets(y, len(dist), self._target_dim)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, targets, ensure_non_negative=True)
        return float(np.average(dist.logpdf(_squeeze(targets)), weights=sample_weight))

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
            kwargs.setdefault("hidden_sizes", (4 * self.hidden_size, 4 * self.hidden_size))
        module = self._call_extractor(instantiate_extractor, extractor, input_shape, **kwargs)
        module = check_extractor(module, input_shape)
        return AutocastExtractor(module) if self.mixed_precision else module

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
        """Move the network to a usable device, falling back to the CPU with a warning."""
        device = self.device_
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                "This model was fitted on CUDA, which is not available here; using the CPU.",
                DeviceWarning,
                stacklevel=3,
            )
            self.device_ = torch.device("cpu")
        self.module_.to(self.device_)

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
        state["_skebm_pickle_format"] = PICKLE_FORMAT_VERSION
        return state

    def __setstate__(self, state: dict) -> None:
        version = state.pop("_skebm_pickle_format", None)
        if version is not None and version > PICKLE_FORMAT_VERSION:
            raise ValueError(
                f"This model was saved with pickle format {version}; this skebm reads up to "
                f"{PICKLE_FORMAT_VERSION}. Upgrade skebm to load it."
            )
        if "module_" in state:
            state["device_"] = _loaded_device(state.get("device_"))
        super().__setstate__(state)
        if "module_" in state:
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
    values = np.asarray(y)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric, got dtype {values.dtype}.")
    if values.ndim not in (1, 2):
        raise ValueError(
            f"y must have shape (n_samples,) or (n_samples, n_targets), got {values.shape}."
        )
    values = values.astype(np.float64).reshape(values.shape[0], -1)
    if values.shape != (n_rows, target_dim):
        raise ValueError(
            f"y has {values.shape[0]} rows and {values.shape[1]} target columns; expected "
            f"{n_rows} rows and {target_dim} columns."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("y contains NaN or infinity.")
    return values


def _squeeze(targets: np.ndarray) -> np.ndarray:
    """``(n, 1)`` targets as ``(n,)``, the one-point-per-row form of ``logpdf``."""
    return targets[:, 0] if targets.shape[1] == 1 else targets
