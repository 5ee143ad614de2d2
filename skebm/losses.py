"""Loss terms as pure tensor functions (paper eqs. 5, 6 and 8).

:mod:`skebm.objectives` combines them into the loss of one minibatch for each
way skebm trains a network.

Which parameters a loss may train is part of its definition, so the functions
detach what must be treated as a constant:

* :func:`nce_loss` trains the energy f only: the noise log-densities are constants.
* :func:`proposal_kl_loss` trains the proposal q only: the energies are constants.

Noise samples themselves must be drawn without gradient (see
:func:`skebm.nn.sample_mixture`).
"""

from __future__ import annotations

import math

import torch

__all__ = ["distillation_loss", "mixture_nll", "nce_loss", "proposal_kl_loss"]


def nce_loss(
    energy_true: torch.Tensor,
    energy_noise: torch.Tensor,
    log_q_true: torch.Tensor,
    log_q_noise: torch.Tensor,
) -> torch.Tensor:
    """Noise contrastive estimation loss J_NCE (paper eq. 6).

    A softmax cross-entropy that picks the true target out of ``M`` noise samples,
    with scores ``s = f(x, y) - log q(y)``.

    Parameters
    ----------
    energy_true : Tensor of shape ``(batch,)``
        Energies f(x_i, y_i) at the true targets.
    energy_noise : Tensor of shape ``(batch, M)``
        Energies f(x_i, y_i^(m)) at the noise samples.
    log_q_true : Tensor of shape ``(batch,)``
        Log-densities log q(y_i) of the true targets under the noise
        distribution (constant).
    log_q_noise : Tensor of shape ``(batch, M)``
        Log-densities log q(y_i^(m)) of the noise samples (constant).

    Returns
    -------
    Tensor
        The scalar loss, averaged over the batch.
    """
    scores_true = energy_true - log_q_true.detach()
    scores_noise = energy_noise - log_q_noise.detach()
    scores = torch.cat([scores_true.unsqueeze(1), scores_noise], dim=1)  # (batch, M + 1)
    return -(scores_true - torch.logsumexp(scores, dim=1)).mean()


def proposal_kl_loss(energy_noise: torch.Tensor, log_q_noise: torch.Tensor) -> torch.Tensor:
    """Proposal loss J_KL (paper eq. 5); its gradient estimates grad KL(p || q) (Result 1).

    Parameters
    ----------
    energy_noise : Tensor of shape ``(batch, M)``
        Energies f(x_i, y^(m)) at samples drawn from q (constant).
    log_q_noise : Tensor of shape ``(batch, M)``
        Log-densities log q(y^(m) | x_i) of those samples, differentiable in
        q's parameters.

    Returns
    -------
    Tensor
        The scalar loss: the mean importance-sampling estimate of log Z(x_i).
    """
    n_samples = energy_noise.shape[1]
    log_ratios = energy_noise.detach() - log_q_noise
    return (torch.logsumexp(log_ratios, dim=1) - math.log(n_samples)).mean()


def mixture_nll(log_q_true: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of the true targets under the mixture, averaged.

    Parameters
    ----------
    log_q_true : Tensor of shape ``(batch,)``
        Log-densities log q(y_i | x_i) of the true targets.

    Returns
    -------
    Tensor
        The scalar loss.
    """
    return -log_q_true.mean()


def distillation_loss(
    log_q_true: torch.Tensor,
    energy_noise: torch.Tensor,
    log_q_noise: torch.Tensor,
    teacher_weight: float,
) -> torch.Tensor:
    """Loss of an MDN with an energy-based teacher (paper eq. 8).

    ``(1 - teacher_weight) * NLL + teacher_weight * J_KL``; the paper uses 0.5.

    Parameters
    ----------
    log_q_true : Tensor of shape ``(batch,)``
        Log-densities log q(y_i | x_i) of the true targets.
    energy_noise, log_q_noise : Tensor of shape ``(batch, M)``
        As in :func:`proposal_kl_loss`.
    teacher_weight : float
        Weight of the teacher term, in [0, 1].

    Returns
    -------
    Tensor
        The scalar loss.
    """
    loss = (1.0 - teacher_weight) * mixture_nll(log_q_true)
    if teacher_weight > 0.0:
        loss = loss + teacher_weight * proposal_kl_loss(energy_noise, log_q_noise)
    return loss
