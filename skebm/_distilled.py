"""DistilledMDNRegressor: a mixture density network trained with an energy-based teacher."""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options

from skebm._base import _GLOBAL_SEED_LOCK, BaseProbabilisticRegressor
from skebm._batches import InputBatches
from skebm._docs import fill_shared_docs
from skebm.distributions import GaussianMixtureDistribution
from skebm.distributions._background import Background
from skebm.exceptions import NonFiniteOutputError
from skebm.nn import DistilledMixtureModel, EnergyNetwork, MixtureDensityNetwork
from skebm.objectives import distillation_objective, mixture_likelihood_objective

__all__ = ["DistilledMDNRegressor"]


@fill_shared_docs
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
    can be dropped after ``fit``. The predicted
    :class:`~skebm.distributions.GaussianMixtureDistribution` holds the K
    components and, unless ``background_weight=0``, the background as its
    last component.

    Parameters
    ----------
    {feature_extractor}
        The mixture network and the teacher each get their own: a factory is
        called once per network and must return a new module every time.
    {feature_extractor_kwargs}
    {input_bins}
    {channel_axis}
    {augmentation}
    n_components : int, default=4
        Mixture components K.
    teacher_weight : float, default=0.5
        Weight w of the teacher term in the mixture's loss, in [0, 1]. The
        paper uses 0.5. ``0`` trains a plain maximum-likelihood MDN and builds
        no teacher at all.
    n_noise_samples : int, default=64
        Samples M drawn from the mixture per training row, for both the
        teacher's NCE loss and the KL term. Unused when ``teacher_weight=0``.
    {hidden_size}
    {max_epochs}
    {batch_size}
    {learning_rate}
    {weight_decay}
    {early_stopping}
    {validation_fraction}
    {n_iter_no_change}
    {background_weight}
    keep_teacher : bool, default=True
        Keep the trained teacher as ``teacher_`` after ``fit``. ``False`` frees
        its memory; predictions never need it.
    {device}
    {random_state}
    {verbose}
    {warm_start}
        A dropped teacher is rebuilt from scratch when ``teacher_weight > 0``.
    {mixed_precision}
    {n_threads}

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
        stopping, ``"validation_score"``. A ``warm_start`` fit appends to it.
    {input_bins_}
    {hidden_size_}
    {background_weight_}
    {n_iter_}
    {n_threads_}
    {world_size_}
    {validation_indices_}
    {n_features_in_}
    {feature_names_in_}
    {input_shape_}
    {channel_axis_}
    {device_}

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
    >>> dist = model.predict_dist(X[:3])  # 4 components and the background
    >>> dist.weights.shape, dist.interval(0.9)[0].shape
    ((3, 5), (3,))
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
        *,
        feature_extractor_kwargs=None,
        input_bins="auto",
        channel_axis=None,
        augmentation=None,
        n_components=4,
        teacher_weight=0.5,
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
        keep_teacher=True,
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
        self.background_weight = background_weight
        self.keep_teacher = keep_teacher
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mixed_precision = mixed_precision
        self.n_threads = n_threads

    @property
    def teacher_(self) -> EnergyNetwork | None:
        """The fitted energy network f(x, y), or ``None`` if none was kept."""
        return self.module_.teacher

    # ------------------------------------------------------------ networks
    def _build_module(self, input_shape: tuple[int, ...],
                      target_dim: int) -> DistilledMixtureModel:
        student = MixtureDensityNetwork(self._extractor(input_shape), target_dim,
                                        self.n_components, self.hidden_size_)
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
        return EnergyNetwork(extractor, target_dim, self.hidden_size_)

    def _train(self, inputs: torch.Tensor, targets: torch.Tensor, seed: int,
               sample_weight: torch.Tensor | None = None) -> list[dict]:
        module = self.module_
        if module.teacher is None and self.teacher_weight > 0:  # warm start without one
            with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 2)  # not the shuffling (seed) or noise (seed + 1) seed
                teacher = self._build_teacher(tuple(inputs.shape[1:]), self._target_dim,
                                              module.student)
            module.teacher = teacher.to(self.device_)
        history = super()._train(inputs, targets, seed, sample_weight)
        if not self.keep_teacher:
            module.teacher = None
        return history

    # ------------------------------------------------------------ training
    def _trained_extractors(self) -> list[torch.nn.Module]:
        module = self.module_
        return [network.extractor for network in (module.student, module.teacher)
                if network is not None]

    def _objective(self, device: torch.device):
        if self.teacher_weight == 0:  # plain maximum likelihood: no teacher, no samples
            return mixture_likelihood_objective  # the module's forward is the student's
        return partial(distillation_objective, n_noise_samples=self.n_noise_samples,
                       teacher_weight=float(self.teacher_weight))

    # ------------------------------------------------------------ prediction
    def _distribution(self, inputs: InputBatches,
                      background: bool = True) -> GaussianMixtureDistribution:
        student = self.module_.student
        chunks = []
        with torch.inference_mode():
            for batch in inputs.chunks(self.device_):
                chunks.append([part.double().cpu() for part in student(batch)])
        log_weights, means, log_stds = (torch.cat(parts).numpy() for parts in zip(*chunks))
        scaler = self._target_scaler
        with np.errstate(over="ignore", invalid="ignore"):
            means = means * scaler.scale + scaler.mean
            stds = np.exp(log_stds) * scaler.scale
        finite = (np.isfinite(log_weights).all(axis=1) & np.isfinite(means).all(axis=(1, 2))
                  & np.isfinite(stds).all(axis=(1, 2)) & np.all(stds > 0, axis=(1, 2)))
        if not finite.all():
            raise NonFiniteOutputError(_non_finite_message(np.flatnonzero(~finite), inputs))
        background = Background(self.background_weight_ if background else 0.0, scaler.mean,
                                scaler.scale)
        return GaussianMixtureDistribution(*background.append_to(log_weights, means, stds))


def _non_finite_message(bad_rows: np.ndarray, inputs: InputBatches) -> str:
    """Name the rows whose mixture is not finite, and the likely cause."""
    where = f"{len(bad_rows)} of {len(inputs)} rows (first: row {bad_rows[0]})"
    head = f"The mixture density network returned NaN or infinity for {where}. "
    if not torch.isfinite(inputs.take(bad_rows, torch.device("cpu"))).all():
        return head + (
            "Their inputs overflow after standardisation (float32): they lie far outside "
            "the range seen in fit."
        )
    return head + (
        "Their inputs are finite after standardisation, so the network itself overflowed: "
        "inputs far outside the range seen in fit, or a feature extractor that returns "
        "NaN or infinity in eval mode."
    )
