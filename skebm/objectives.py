"""Training objectives: the loss of one minibatch for each way skebm trains a network.

Every objective is a function ``(model, batch, generator, **settings) ->
(loss, parts)`` of the pure torch networks in :mod:`skebm.nn` and the loss terms
in :mod:`skebm.losses`: ``batch`` is a pair ``(inputs, targets)`` of tensors
(targets ``(batch, d)`` in standardised units), ``generator`` draws the noise
samples, ``loss`` is the scalar to minimise and ``parts`` names the scalar terms
worth logging. The estimators only choose an objective and its settings, so
each one can be trained and tested with torch alone.

Examples
--------
>>> import torch
>>> from skebm.nn import EnergyModel, MLPExtractor
>>> from skebm.objectives import learned_noise_objective
>>> model = EnergyModel(MLPExtractor(3, (8,)), target_dim=1, n_components=2, hidden_size=8)
>>> batch = torch.zeros(4, 3), torch.zeros(4, 1)
>>> loss, parts = learned_noise_objective(model, batch, torch.Generator(), n_noise_samples=16)
>>> sorted(parts)
['nce', 'proposal_kl']
"""

from __future__ import annotations

import torch

from skebm.losses import distillation_loss, mixture_nll, nce_loss, proposal_kl_loss
from skebm.nn import (
    DistilledMixtureModel,
    EnergyModel,
    MixtureDensityNetwork,
    mixture_log_prob,
    sample_mixture,
)
from skebm.nn.mixture import fixed_gaussian_noise

__all__ = [
    "distillation_objective",
    "gaussian_noise_objective",
    "learned_noise_objective",
    "mixture_likelihood_objective",
]

Batch = tuple[torch.Tensor, torch.Tensor]
Objective = tuple[torch.Tensor, dict[str, torch.Tensor]]


def learned_noise_objective(
    model: EnergyModel, batch: Batch, generator: torch.Generator, *, n_noise_samples: int
) -> Objective:
    """The paper's method: NCE with the learned proposal as noise, plus J_KL for the proposal.

    ``n_noise_samples`` draws y^(m) ~ q(y | x_i) per row are the NCE noise of
    the energy f (eq. 6) and the samples of the proposal loss (eq. 5).

    Parameters
    ----------
    model : EnergyModel
        The energy network f and its proposal q.
    batch : tuple of Tensor
        ``(inputs, targets)``, targets of shape ``(batch, d)`` in standardised
        units.
    generator : torch.Generator
        Source of the noise samples.
    n_noise_samples : int
        Noise draws per row.

    Returns
    -------
    loss : Tensor
        ``J_NCE + J_KL``.
    parts : dict
        ``"nce"`` and ``"proposal_kl"``.
    """
    inputs, targets = batch
    features = model.features(inputs)
    proposal = model.proposal(features)
    # One log-density serves both losses: NCE detaches it, J_KL trains on it.
    nce, energies, log_q = _noise_contrast(
        lambda points: model.energy(features, points), targets, proposal, n_noise_samples,
        generator)
    kl = proposal_kl_loss(energies[:, 1:], log_q[:, 1:])
    return nce + kl, {"nce": nce, "proposal_kl": kl}


def gaussian_noise_objective(
    model: EnergyModel,
    batch: Batch,
    generator: torch.Generator,
    *,
    n_noise_samples: int,
    sigmas: torch.Tensor,
) -> Objective:
    """The NCE baseline: noise ``(1/K) sum_k N(y; y_i, sigma_k^2)``; the proposal still learns.

    The energy f is trained by NCE with ``n_noise_samples`` draws from the
    fixed Gaussian noise around each true target (``sigmas`` of shape
    ``(K, d)``, standardised units). The proposal q is trained with J_KL on
    draws of its own, so that prediction works as for the learned noise.

    Parameters
    ----------
    model : EnergyModel
        The energy network f and its proposal q.
    batch : tuple of Tensor
        ``(inputs, targets)``, targets of shape ``(batch, d)`` in standardised
        units.
    generator : torch.Generator
        Source of the noise samples.
    n_noise_samples : int
        Noise draws per row, for the NCE of f and for the J_KL of q each.
    sigmas : Tensor of shape (K, d)
        Standard deviations of the K Gaussian noise components, in
        standardised units.

    Returns
    -------
    loss : Tensor
        ``J_NCE + J_KL``.
    parts : dict
        ``"nce"`` and ``"proposal_kl"``.
    """
    inputs, targets = batch
    features = model.features(inputs)
    proposal = model.proposal(features)
    nce, _, _ = _noise_contrast(
        lambda points: model.energy(features, points), targets,
        fixed_gaussian_noise(targets, sigmas), n_noise_samples, generator)
    proposal_samples = sample_mixture(proposal.detach(), n_noise_samples, generator)
    with torch.no_grad():
        proposal_energies = model.energy(features, proposal_samples)
    kl = proposal_kl_loss(proposal_energies, mixture_log_prob(proposal, proposal_samples))
    return nce + kl, {"nce": nce, "proposal_kl": kl}


def distillation_objective(
    model: DistilledMixtureModel,
    batch: Batch,
    generator: torch.Generator,
    *,
    n_noise_samples: int,
    teacher_weight: float,
) -> Objective:
    """A mixture density network trained with an energy-based teacher (paper eq. 8).

    The teacher f learns by NCE with ``n_noise_samples`` draws from the
    student's mixture q as noise; q learns from
    ``(1 - teacher_weight) * NLL + teacher_weight * J_KL``.

    Parameters
    ----------
    model : DistilledMixtureModel
        The teacher f and the student mixture density network q.
    batch : tuple of Tensor
        ``(inputs, targets)``, targets of shape ``(batch, d)`` in standardised
        units.
    generator : torch.Generator
        Source of the noise samples.
    n_noise_samples : int
        Noise draws per row.
    teacher_weight : float
        Weight of the teacher's J_KL in the student's loss, in [0, 1].

    Returns
    -------
    loss : Tensor
        The sum of the teacher's and the student's losses (they train disjoint
        networks).
    parts : dict
        ``"nll"`` (logged only), ``"nce"`` and ``"distillation"``.
    """
    inputs, targets = batch
    mixture = model.student(inputs)
    # One log-density serves both losses: NCE detaches it, eq. 8 trains on it.
    nce, energies, log_q = _noise_contrast(
        lambda points: model.teacher(inputs, points), targets, mixture, n_noise_samples,
        generator)
    distillation = distillation_loss(log_q[:, 0], energies[:, 1:], log_q[:, 1:],
                                     teacher_weight)
    parts = {"nll": mixture_nll(log_q[:, 0]), "nce": nce, "distillation": distillation}
    return nce + distillation, parts


def mixture_likelihood_objective(
    model: MixtureDensityNetwork | DistilledMixtureModel,
    batch: Batch,
    generator: torch.Generator | None = None,
) -> Objective:
    """Plain maximum likelihood of a mixture density network (no teacher, no samples).

    ``model(inputs)`` must return the mixture parameters, as a
    :class:`~skebm.nn.MixtureDensityNetwork` and a
    :class:`~skebm.nn.DistilledMixtureModel` (its student) do. ``generator``
    is not used; it is accepted so that every objective is called the same way.

    Parameters
    ----------
    model : MixtureDensityNetwork or DistilledMixtureModel
        The network returning the mixture parameters.
    batch : tuple of Tensor
        ``(inputs, targets)``, targets of shape ``(batch, d)`` in standardised
        units.
    generator : torch.Generator or None, default=None
        Not used.

    Returns
    -------
    loss : Tensor
        The mean negative log-likelihood of the targets.
    parts : dict
        ``"nll"``.
    """
    inputs, targets = batch
    nll = mixture_nll(mixture_log_prob(model(inputs), targets.unsqueeze(1))[:, 0])
    return nll, {"nll": nll}


def _noise_contrast(energy_of, targets, noise, n_noise_samples, generator):
    """J_NCE with ``n_noise_samples`` draws per row from the mixture ``noise`` (eq. 6).

    ``energy_of(points)`` scores points ``(batch, 1 + M, d)``. The draws carry
    no gradient; the log-densities do, for losses that train ``noise``.

    Returns
    -------
    nce : Tensor
        The scalar NCE loss.
    energies, log_q : Tensor of shape ``(batch, 1 + M)``
        f and log q at the true target (column 0) and at the draws.
    """
    samples = sample_mixture(noise.detach(), n_noise_samples, generator)  # (batch, M, d)
    points = torch.cat([targets.unsqueeze(1), samples], dim=1)  # (batch, 1 + M, d)
    energies = energy_of(points)
    log_q = mixture_log_prob(noise, points)
    nce = nce_loss(energies[:, 0], energies[:, 1:], log_q[:, 0], log_q[:, 1:])
    return nce, energies, log_q
