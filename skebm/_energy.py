"""EnergyRegressor: an energy-based model trained with a learned proposal."""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions

from skebm._base import BaseProbabilisticRegressor
from skebm._batches import InputBatches
from skebm._docs import fill_shared_docs
from skebm._evaluator import EnergyEvaluator
from skebm._stacking import stacking_weight
from skebm.distributions import EnergyDistribution, GaussianMixtureDistribution
from skebm.distributions._background import Background
from skebm.nn import EnergyModel
from skebm.objectives import gaussian_noise_objective, learned_noise_objective

__all__ = ["EnergyRegressor"]

DEFAULT_SIGMA_FACTORS = (0.1, 0.8)
"""Baseline noise widths, as multiples of each target's standard deviation."""


@fill_shared_docs
class EnergyRegressor(BaseProbabilisticRegressor):
    """Energy-based probabilistic regression with a learned proposal.

    Models the full conditional density ``p(y | x) ∝ exp f(x, y)`` with a neural
    network f, following Gustafsson, Danelljan & Schön, *Learning Proposals
    for Practical Energy-Based Regression* (AISTATS 2022). f is trained by noise
    contrastive estimation (NCE); a mixture density network q(y | x) sharing
    f's feature extractor is trained jointly to minimise KL(p || q) and serves
    as the NCE noise (``noise="mdn"``, the paper's method) and, at prediction,
    as the importance-sampling proposal.

    Parameters
    ----------
    {feature_extractor}
    {feature_extractor_kwargs}
    {input_bins}
    {channel_axis}
    {augmentation}
    noise : {"mdn", "gaussian"}, default="mdn"
        NCE noise distribution. ``"mdn"`` uses the learned proposal q(y | x).
        ``"gaussian"`` is the earlier baseline
        ``q(y | y_i) = (1/K) sum_k N(y; y_i, sigma_k^2)`` with fixed ``sigmas``;
        the proposal is still trained (with eq. 5) so that prediction works.
    sigmas : sequence of float, default=None
        Standard deviations of the ``"gaussian"`` noise components, in the
        units of ``y`` (applied to every target column). ``None`` uses 0.1 and
        0.8 times each target column's standard deviation, a scale-free version
        of the paper's (0.1, 0.8). Ignored for ``noise="mdn"``.
    n_components : int, default=4
        Components K of the mixture proposal.
    n_noise_samples : int, default=64
        Noise samples M per training row.
    {hidden_size}
    {max_epochs}
    {batch_size}
    {learning_rate}
    {weight_decay}
    {early_stopping}
    {validation_fraction}
    {n_iter_no_change}
    {background_weight}
    proposal_weight : "auto" or float in [0, 1], default="auto"
        Weight ``a`` of the learned proposal q in the predictive density,
        ``(1 - a) p(y | x) + a q(y | x)`` (the background, if any, is mixed
        into that). The energy-based p and the proposal q are two densities
        trained together; where the noise is nearly Gaussian and the rows
        few, q can predict as well as p or better, and a mixture of the two
        better than either. ``"auto"`` chooses ``a`` after training by
        maximising the log-likelihood of the rows held out for early
        stopping (stacking), and keeps it only if its mean gain there over
        ``a = 0`` exceeds one standard error; otherwise, or when no rows are
        held out, ``a = 0``, the energy-based density alone, as 0 gives.
        Every method of the returned distribution is that of the mixture
        (with ``a > 0``, 1-D predictions cost about twice as much: the
        energy's normaliser is computed before the mixture's quadrature).
        Training does not depend on it.
    n_inference_samples : int, default=256
        Proposal samples per row for importance sampling at prediction, for
        targets of two or more dimensions (scrambled Sobol draws; their error
        shrinks with more draws and with how well the proposal covers p).
        1-D targets use quadrature.
    {device}
    {random_state}
    {verbose}
    {warm_start}
    {mixed_precision}
    {n_threads}

    Attributes
    ----------
    module_ : EnergyModel
        The fitted network (extractor, energy head, proposal head).
    history_ : list of dict
        One record per epoch: ``"epoch"``, the mean training losses (``"nce"``,
        ``"proposal_kl"``) and, in
        epochs with a held-out check, ``"validation_score"`` (mean
        log-likelihood of the held-out rows). A ``warm_start`` fit
        appends to it and continues the epoch count.
    {input_bins_}
    {hidden_size_}
    {background_weight_}
    proposal_weight_ : float
        The proposal weight ``a`` used by the last ``fit`` (see
        ``proposal_weight``).
    {n_iter_}
    {n_threads_}
    {world_size_}
    {validation_indices_}
    {n_features_in_}
    {feature_names_in_}
    {input_shape_}
    {channel_axis_}
    {device_}

    Examples
    --------
    >>> from skebm import EnergyRegressor
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = EnergyRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> model.predict_dist(X[:3]).interval(0.9)[0].shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseProbabilisticRegressor._parameter_constraints,
        "noise": [StrOptions({"mdn", "gaussian"})],
        "sigmas": ["array-like", None],
        "proposal_weight": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "n_inference_samples": [Interval(Integral, 1, None, closed="left")],
        "channel_axis": [None, Options(Integral, {1, 3, -1})],
    }

    def __init__(
        self,
        feature_extractor="auto",
        *,
        feature_extractor_kwargs=None,
        input_bins="auto",
        channel_axis=None,
        augmentation=None,
        noise="mdn",
        sigmas=None,
        n_components=4,
        n_noise_samples=64,
        hidden_size="auto",
        max_epochs="auto",
        batch_size=64,
        learning_rate=4e-3,
        weight_decay=0.0,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        background_weight="auto",
        proposal_weight="auto",
        n_inference_samples=256,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        mixed_precision=False,
        n_threads="auto",
    ):
        self.feature_extractor = feature_extractor
        self.feature_extractor_kwargs = feature_extractor_kwargs
        self.input_bins = input_bins
        self.channel_axis = channel_axis
        self.augmentation = augmentation
        self.noise = noise
        self.sigmas = sigmas
        self.n_components = n_components
        self.n_noise_samples = n_noise_samples
        self.hidden_size = hidden_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.background_weight = background_weight
        self.proposal_weight = proposal_weight
        self.n_inference_samples = n_inference_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mixed_precision = mixed_precision
        self.n_threads = n_threads

    def _check_extra_params(self) -> None:
        if self.sigmas is None:
            return
        sigmas = np.asarray(self.sigmas)
        if sigmas.dtype.kind not in "iuf" or sigmas.ndim != 1 or sigmas.size == 0:
            raise ValueError(
                f"sigmas must be a non-empty sequence of numbers, got {self.sigmas!r}."
            )
        if not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
            raise ValueError(f"sigmas must be positive and finite, got {self.sigmas!r}.")

    def _build_module(self, input_shape: tuple[int, ...], target_dim: int) -> EnergyModel:
        return EnergyModel(self._extractor(input_shape), target_dim, self.n_components,
                           self.hidden_size_)

    def _noise_sigmas(self, device: torch.device) -> torch.Tensor:
        """Baseline noise standard deviations in standardised units, ``(K, d)``."""
        scale = self._target_scaler.scale
        if self.sigmas is None:
            standard = np.outer(DEFAULT_SIGMA_FACTORS, np.ones_like(scale))
        else:
            standard = np.outer(np.asarray(self.sigmas, dtype=np.float64), 1.0 / scale)
        return torch.as_tensor(standard, dtype=torch.float32, device=device)

    def _objective(self, device: torch.device):
        if self.noise == "mdn":
            return partial(learned_noise_objective, n_noise_samples=self.n_noise_samples)
        return partial(gaussian_noise_objective, n_noise_samples=self.n_noise_samples,
                       sigmas=self._noise_sigmas(device))

    def _distribution(self, inputs: InputBatches, background: bool = True) -> EnergyDistribution:
        evaluator = EnergyEvaluator(
            self.module_, inputs, self._target_scaler.mean, self._target_scaler.scale,
            self._grid_bounds, self.device_, n_threads=getattr(self, "n_threads_", None),
        )
        return EnergyDistribution(evaluator, n_samples=self.n_inference_samples,
                                  seed=self._inference_seed,
                                  background_weight=self.background_weight_ if background else 0.0,
                                  proposal_weight=self.proposal_weight_ if background else 0.0)

    def _fit_predictive_mixture(self, held_out: tuple | None) -> None:
        if self.proposal_weight != "auto":
            self.proposal_weight_ = float(self.proposal_weight)
            return
        if held_out is None:
            self.proposal_weight_ = 0.0
            return
        inputs, targets, weights = held_out
        energy = self._distribution(inputs, background=False)
        points = targets[:, None, :]
        log_p = energy._logpdf_points(points)[:, 0]
        proposal = GaussianMixtureDistribution(
            *energy._evaluator.proposal_components(np.arange(len(targets))))
        log_q = proposal._logpdf_points(points)[:, 0]
        scaler = self._target_scaler
        log_background = Background(self.background_weight_, scaler.mean,
                                    scaler.scale).log_density(points)[:, 0]
        self.proposal_weight_ = stacking_weight(log_p, log_q, log_background,
                                                self.background_weight_, weights)
