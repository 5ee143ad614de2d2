"""DistilledMDNRegressor: a mixture density network trained with an energy-based teacher."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options

from skebm._base import _GLOBAL_SEED_LOCK, BaseProbabilisticRegressor
from skebm.distributions import GaussianMixtureDistribution
from skebm.losses import distillation_loss, mixture_nll, nce_loss
from skebm.nn import (
    DistilledMixtureModel,
    EnergyNetwork,
    MixtureDensityNetwork,
    draw_mixture,
    mixture_log_prob,
)

__all__ = ["DistilledMDNRegressor"]

_ROWS_PER_CHUNK = 4096


class DistilledMDNRegressor(BaseProbabilisticRegressor):
    """A mixture density network guided by an energy-based teacher.

    The improved MDN training of Gustafsson, Danelljan & Schön, *Learning
    Proposals for Practical Energy-Based Regression* (AISTATS 2022, Sec. 3.3):
    a network g(x) outputs a K-component diagonal Gaussian mixture q(y | x),
    and a separate energy network f(x, y) (the teacher) is trained jointly.
    Per minibatch, ``n_noise_samples`` draws from q serve as noise for training
    f by noise contrastive estimation, and q is trained on
    ``(1 - teacher_weight) * NLL + teacher_weight * J_KL``, where J_KL pulls q
    towards the teacher's density p(y | x) ∝ exp f(x, y) (paper eq. 8).
    Predictions use the mixture only, so they are exact and cheap; the teacher
    can be dropped after ``fit``.

    Parameters
    ----------
    feature_extractor : {"auto", "mlp", "cnn", "resnet18"}, callable or nn.Module, \
            default="auto"
        Network mapping inputs to features h_x, as for
        :class:`~skebm.EnergyRegressor` (``"auto"`` is ``"mlp"`` for tables and
        ``"cnn"`` for images). The mixture network and the teacher each get
        their own: a factory is called once per network and must return a new
        module every time.
    feature_extractor_kwargs : dict, default=None
        Keyword arguments of the extractor (e.g. ``{"hidden_sizes": (128, 128)}``
        for ``"mlp"``).
    channel_axis : {None, 1, -1}, default=None
        Channel axis of a 4-D image array ``X``, as for
        :class:`~skebm.EnergyRegressor`; ``None`` detects it.
    n_components : int, default=4
        Mixture components K.
    teacher_weight : float, default=0.5
        Weight w of the teacher term in the mixture's loss, in [0, 1]. The
        paper uses 0.5. ``0`` trains a plain maximum-likelihood MDN and builds
        no teacher at all.
    n_noise_samples : int, default=64
        Samples M drawn from the mixture per training row, for both the
        teacher's NCE loss and the KL term. Unused when ``teacher_weight=0``.
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
        log-likelihood under the mixture has not improved for
        ``n_iter_no_change`` epochs; the best parameters are restored.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in held-out checks: epochs, or with
        ``max_epochs="auto"`` the about 25 checks per fit (so 10 is 40 % of
        the budget). The parameters with the best held-out score are restored
        at the end either way.
    keep_teacher : bool, default=True
        Keep the trained teacher as ``teacher_`` after ``fit``. ``False`` frees
        its memory; predictions never need it.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train and predict; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, noise and ``sample``; an int
        makes ``fit`` and every prediction reproducible.
    verbose : int, default=0
        Print per-epoch losses (a progress bar if tqdm is installed).
    warm_start : bool, default=False
        Continue training the fitted networks on the next ``fit`` call (a
        dropped teacher is rebuilt from scratch when ``teacher_weight > 0``).
    mixed_precision : bool, default=False
        Run the feature extractor under bfloat16 autocast (the heads stay in
        float32). Meant for CUDA with image extractors, where it roughly halves
        the extractor's time and memory; on CPUs without bfloat16 support it is
        usually slower.

    Attributes
    ----------
    module_ : DistilledMixtureModel
        The fitted networks: ``module_.student`` (the mixture density network)
        and ``module_.teacher``.
    teacher_ : EnergyNetwork or None
        The fitted teacher f(x, y), in standardised units; ``None`` when
        ``teacher_weight=0`` or ``keep_teacher=False``.
    history_ : list of dict
        One record per epoch: ``"epoch"``, the mean training losses (``"nll"``
        and, with a teacher, ``"nce"`` and ``"distillation"``) and, with early
        stopping, ``"validation_score"`` (in epochs with a held-out check). A
        ``warm_start`` fit appends to it.
    n_iter_ : int
        Epochs run by the last ``fit``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.
    input_shape_ : tuple of int
        Shape of one input in ``fit``; later inputs must match it.
    channel_axis_ : int or None
        Channel axis of the 4-D image array in ``fit``; ``None`` otherwise.
    device_ : torch.device
        Device the networks live on.

    See Also
    --------
    EnergyRegressor : The energy-based model itself, with a learned proposal.

    Examples
    --------
    >>> from skebm import DistilledMDNRegressor
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=200, random_state=0)
    >>> model = DistilledMDNRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> dist = model.predict_dist(X[:3])
    >>> dist.weights.shape, dist.interval(0.9)[0].shape
    ((3, 4), (3,))
    """

    _parameter_constraints: dict = {
        **BaseProbabilisticRegressor._parameter_constraints,
        "teacher_weight": [Interval(Real, 0, 1, closed="both")],
        "keep_teacher": ["boolean"],
        "channel_axis": [None, Options(Integral, {1, 3, -1})],
    }

    def __init__(
        self,
        feature_extractor="auto",
        feature_extractor_kwargs=None,
        channel_axis=None,
        n_components=4,
        teacher_weight=0.5,
        n_noise_samples=64,
        hidden_size=32,
        max_epochs="auto",
        batch_size=64,
        learning_rate=4e-3,
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        keep_teacher=True,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        mixed_precision=False,
    ):
        self.feature_extractor = feature_extractor
        self.feature_extractor_kwargs = feature_extractor_kwargs
        self.channel_axis = channel_axis
        self.n_components = n_components
        self.teacher_weight = teacher_weight
        self.n_noise_samples = n_noise_samples
        self.hidden_size = hidden_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.keep_teacher = keep_teacher
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mixed_precision = mixed_precision

    @property
    def teacher_(self) -> EnergyNetwork | None:
        """The fitted energy network f(x, y), or ``None`` if none was kept."""
        return self.module_.teacher

    # ------------------------------------------------------------ networks
    def _build_module(self, input_shape: tuple[int, ...],
                      target_dim: int) -> DistilledMixtureModel:
        student = MixtureDensityNetwork(self._extractor(input_shape), target_dim,
                                        self.n_components, self.hidden_size)
        teacher = self._build_teacher(input_shape, target_dim, student)
        return DistilledMixtureModel(student, teacher)

    def _build_teacher(self, input_shape: tuple[int, ...], target_dim: int,
                       student: MixtureDensityNetwork) -> EnergyNetwork | None:
        if self.teacher_weight == 0:
            return None
        extractor = self._extractor(input_shape)
        if extractor is student.extractor:
            raise ValueError(
                "feature_extractor returned the same module twice; it must build a new "
                "module on every call, as the mixture network and the teacher each get one."
            )
        return EnergyNetwork(extractor, target_dim, self.hidden_size)

    def _train(self, inputs: torch.Tensor, targets: torch.Tensor, seed: int) -> list[dict]:
        module = self.module_
        if module.teacher is None and self.teacher_weight > 0:  # warm start without one
            with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 2)  # not the shuffling (seed) or noise (seed + 1) seed
                teacher = self._build_teacher(tuple(inputs.shape[1:]), self._target_dim,
                                              module.student)
            module.teacher = teacher.to(self.device_)
        history = super()._train(inputs, targets, seed)
        if not self.keep_teacher:
            module.teacher = None
        return history

    # ------------------------------------------------------------ training
    def _batch_loss(self, module: DistilledMixtureModel, generator: torch.Generator):
        teacher_weight = float(self.teacher_weight)
        n_samples = self.n_noise_samples

        def batch_loss(inputs: torch.Tensor, targets: torch.Tensor):
            mixture = module.student(inputs)
            if teacher_weight == 0:  # plain maximum likelihood: no teacher, no samples
                nll = mixture_nll(mixture_log_prob(mixture, targets.unsqueeze(1))[:, 0])
                return nll, {"nll": nll}
            samples = draw_mixture(mixture.detach(), n_samples, generator)  # (batch, M, d)
            points = torch.cat([targets.unsqueeze(1), samples], dim=1)  # (batch, 1 + M, d)
            energies = module.teacher(inputs, points)  # (batch, 1 + M)
            # One log-density serves both losses: NCE detaches it, eq. 8 trains on it.
            log_q = mixture_log_prob(mixture, points)
            nce = nce_loss(energies[:, 0], energies[:, 1:], log_q[:, 0], log_q[:, 1:])
            distillation = distillation_loss(log_q[:, 0], energies[:, 1:], log_q[:, 1:],
                                             teacher_weight)
            parts = {"nll": mixture_nll(log_q[:, 0]), "nce": nce, "distillation": distillation}
            return nce + distillation, parts

        return batch_loss

    # ------------------------------------------------------------ prediction
    def _distribution(self, inputs: torch.Tensor) -> GaussianMixtureDistribution:
        student = self.module_.student
        chunks = []
        with torch.inference_mode():
            for start in range(0, inputs.shape[0], _ROWS_PER_CHUNK):
                batch = inputs[start : start + _ROWS_PER_CHUNK].to(self.device_)
                chunks.append([part.double().cpu() for part in student(batch)])
        log_weights, means, log_stds = (torch.cat(parts).numpy() for parts in zip(*chunks))
        scaler = self._target_scaler
        return GaussianMixtureDistribution(
            log_weights, means * scaler.scale + scaler.mean, np.exp(log_stds) * scaler.scale
        )
