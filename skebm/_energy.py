"""EnergyRegressor: an energy-based model trained with a learned proposal."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions

from skebm._base import BaseProbabilisticRegressor
from skebm._evaluator import EnergyEvaluator
from skebm.distributions import EnergyDistribution
from skebm.losses import mixture_nll, nce_loss, proposal_kl_loss
from skebm.nn import EnergyModel, draw_mixture, fixed_gaussian_noise, mixture_log_prob

__all__ = ["EnergyRegressor"]

_VALIDATION_GRID_SIZE = 512

DEFAULT_SIGMA_FACTORS = (0.1, 0.8)
"""Baseline noise widths, as multiples of each target's standard deviation."""


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
    feature_extractor : {"auto", "mlp", "cnn", "resnet18"}, callable or nn.Module, \
            default="auto"
        Network mapping inputs to features h_x. ``"mlp"`` is a two-layer ReLU
        MLP of width ``4 * hidden_size`` (images are flattened); ``"cnn"`` a small
        convolutional net (:class:`skebm.nn.ConvExtractor`, 64 features) that
        trains in minutes on a CPU for 32x32 to 64x64 images; ``"resnet18"``
        the paper's ResNet-18 backbone (:class:`skebm.nn.ResNet18Extractor`,
        512 features), randomly initialised unless
        ``feature_extractor_kwargs={"weights": path_or_state_dict}`` (nothing
        is downloaded; torchvision is not needed). ``"auto"`` is ``"mlp"`` for
        tables and ``"cnn"`` for images. A user extractor is an ``nn.Module``
        subclass or factory, called with ``**feature_extractor_kwargs`` (and
        ``input_shape``, the shape of one preprocessed input -- ``(n_features,)``
        or ``(C, H, W)`` -- if it takes an argument of that name), or a module
        instance, copied at every ``fit``. Its ``forward`` maps a float32 batch
        ``(batch, *input_shape)`` to ``(batch, features)``; the feature size is
        read from an ``out_features`` attribute or found by a dry run. Define
        it at module level so the fitted model can be pickled.
    feature_extractor_kwargs : dict, default=None
        Keyword arguments of the extractor (e.g. ``{"hidden_sizes": (128, 128)}``
        for ``"mlp"``, ``{"channels": (32, 64, 128)}`` for ``"cnn"``).
    channel_axis : {None, 1, -1}, default=None
        Axis of a 4-D image array ``X`` that holds the channels: ``1`` for
        ``(n, C, H, W)``, ``-1`` (or ``3``) for ``(n, H, W, C)``. ``None``
        detects it: the channel axis is whichever of axis 1 and the last axis
        has size 1, 3 or 4; when both or neither do, the smaller of the two (the
        last on a tie). Must be ``None`` for ``(n, H, W)`` images. Images are
        standardised per channel (``uint8`` divided by 255 first) with
        statistics learned in ``fit``.
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
    residual : bool, default=False
        Model the energy as ``f(x, y) = log q(y | x) + g(x, y)``: the
        proposal's log-density (held constant inside f) plus a network g that
        starts at zero, so the model starts from the proposal and NCE, whose
        optimum with noise q is ``log p - log q``, only learns the correction.
        As p then depends on q, q is trained by maximum likelihood (a plain
        MDN on the shared features) instead of KL(p || q). Not the default: on
        the UCI benchmark and the first toy set it did not beat the plain
        energy (see ``benchmarks/RESULTS.md``).
    n_noise_samples : int, default=64
        Noise samples M per training row.
    hidden_size : int, default=32
        Width of the hidden layers of both heads; the default ``"mlp"``
        extractor's two layers are four times as wide (it runs once per row,
        the heads once per noise sample, so width costs little there).
    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"`` sets a budget of optimiser
        steps instead (2000, and at least 10 passes): many passes for small
        tables, few for large ones, so the fit time hardly depends on the
        number of rows. With early stopping the held-out score is then checked
        about 25 times per fit.
    batch_size : int, default=64
        Rows per minibatch.
    learning_rate : float, default=4e-3
        Initial Adam step size; it decays to zero on a cosine schedule.
    weight_decay : float, default=0.0
        Decoupled (AdamW) weight decay of all network parameters.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when their mean
        log-likelihood has not improved for ``n_iter_no_change`` epochs; the
        best parameters are restored.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in held-out checks: epochs, or with
        ``max_epochs="auto"`` the about 25 checks per fit (so 10 is 40 % of
        the budget). The parameters with the best held-out score are restored
        at the end either way.
    n_inference_samples : int, default=1024
        Proposal samples per row for importance sampling at prediction.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train and predict; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, noise and prediction-time
        sampling; an int makes ``fit`` and every prediction reproducible.
    verbose : int, default=0
        Print per-epoch losses (a progress bar if tqdm is installed).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit`` call.
    mixed_precision : bool, default=False
        Run the feature extractor under bfloat16 autocast (the heads stay in
        float32). Meant for CUDA with image extractors, where it roughly halves
        the extractor's time and memory; on CPUs without bfloat16 support it is
        usually slower.

    Attributes
    ----------
    module_ : EnergyModel
        The fitted network (extractor, energy head, proposal head).
    history_ : list of dict
        One record per epoch: ``"epoch"``, the mean training losses (``"nce"``,
        ``"proposal_kl"``, or ``"proposal_nll"`` with ``residual=True``) and, in
        epochs with a held-out check, ``"validation_score"`` (mean
        log-likelihood of the held-out rows). A ``warm_start`` fit
        appends to it and continues the epoch count.
    n_iter_ : int
        Epochs run by the last ``fit``.
    n_features_in_ : int
        Number of input features (values per image, H * W * C, for images).
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.
    input_shape_ : tuple of int
        Shape of one input in ``fit``: ``(n_features,)``, or the image shape as
        passed (``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``). Later inputs must
        match it.
    channel_axis_ : int or None
        Channel axis of the 4-D image array in ``fit`` (1 or 3); ``None`` for
        tables and ``(n, H, W)`` images.
    device_ : torch.device
        Device the network lives on.

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
        "residual": ["boolean"],
        "sigmas": ["array-like", None],
        "n_inference_samples": [Interval(Integral, 1, None, closed="left")],
        "channel_axis": [None, Options(Integral, {1, 3, -1})],
    }

    def __init__(
        self,
        feature_extractor="auto",
        feature_extractor_kwargs=None,
        channel_axis=None,
        noise="mdn",
        sigmas=None,
        n_components=4,
        residual=False,
        n_noise_samples=64,
        hidden_size=32,
        max_epochs="auto",
        batch_size=64,
        learning_rate=4e-3,
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        n_inference_samples=1024,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        mixed_precision=False,
    ):
        self.feature_extractor = feature_extractor
        self.feature_extractor_kwargs = feature_extractor_kwargs
        self.channel_axis = channel_axis
        self.noise = noise
        self.sigmas = sigmas
        self.n_components = n_components
        self.residual = residual
        self.n_noise_samples = n_noise_samples
        self.hidden_size = hidden_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_inference_samples = n_inference_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mixed_precision = mixed_precision

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
                           self.hidden_size, residual=self.residual)

    def _noise_sigmas(self, device: torch.device) -> torch.Tensor:
        """Baseline noise standard deviations in standardised units, ``(K, d)``."""
        scale = self._target_scaler.scale
        if self.sigmas is None:
            standard = np.outer(DEFAULT_SIGMA_FACTORS, np.ones_like(scale))
        else:
            standard = np.outer(np.asarray(self.sigmas, dtype=np.float64), 1.0 / scale)
        return torch.as_tensor(standard, dtype=torch.float32, device=device)

    def _batch_loss(self, module: EnergyModel, generator: torch.Generator):
        n_samples = self.n_noise_samples
        learned_noise = self.noise == "mdn"
        sigmas = None if learned_noise else self._noise_sigmas(generator.device)

        def batch_loss(inputs: torch.Tensor, targets: torch.Tensor):
            features = module.features(inputs)
            proposal = module.proposal(features)
            noise = proposal.detach() if learned_noise else fixed_gaussian_noise(targets, sigmas)
            samples = draw_mixture(noise, n_samples, generator)  # (batch, M, d), no gradient
            projected = module.energy_head.project_inputs(features)
            points = torch.cat([targets.unsqueeze(1), samples], dim=1)  # (batch, 1 + M, d)
            energies = module.energy_head.score_projected(projected, points)
            energies = energies + module.energy_offset(proposal, points)
            # With learned noise, one log-density serves both losses: NCE detaches it.
            log_q = mixture_log_prob(proposal if learned_noise else noise, points)
            nce = nce_loss(energies[:, 0], energies[:, 1:], log_q[:, 0], log_q[:, 1:])
            if module.residual:  # p depends on q here, so q learns from the data (its NLL)
                nll = mixture_nll(mixture_log_prob(proposal, targets.unsqueeze(1))[:, 0])
                return nce + nll, {"nce": nce, "proposal_nll": nll}
            if learned_noise:
                kl = proposal_kl_loss(energies[:, 1:], log_q[:, 1:])
            else:
                proposal_samples = draw_mixture(proposal.detach(), n_samples, generator)
                with torch.no_grad():
                    proposal_energies = module.energy_head.score_projected(
                        projected, proposal_samples)
                kl = proposal_kl_loss(proposal_energies,
                                      mixture_log_prob(proposal, proposal_samples))
            return nce + kl, {"nce": nce, "proposal_kl": kl}

        return batch_loss

    def _distribution(self, inputs: torch.Tensor,
                      grid_size: int = 2048) -> EnergyDistribution:
        evaluator = EnergyEvaluator(
            self.module_, inputs, self._target_scaler.mean, self._target_scaler.scale,
            self._grid_bounds, self.device_,
        )
        return EnergyDistribution(evaluator, n_samples=self.n_inference_samples,
                                  grid_size=grid_size, seed=self._inference_seed)

    def _validation_distribution(self, inputs: torch.Tensor) -> EnergyDistribution:
        # Held-out checks only compare checkpoints: a 4x coarser 1-D grid, 4x cheaper.
        return self._distribution(inputs, grid_size=_VALIDATION_GRID_SIZE)
