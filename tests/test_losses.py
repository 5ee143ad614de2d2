import math

import numpy as np
import pytest
import torch

from skebm.losses import distillation_loss, mixture_nll, nce_loss, proposal_kl_loss
from skebm.nn import MixtureParameters, mixture_log_prob
from skebm.nn.mixture import samples_from_base_draws


def test_nce_loss_is_cross_entropy_of_picking_the_true_target():
    energy_true, energy_noise = torch.tensor([2.0]), torch.tensor([[0.0, 1.0]])
    log_q_true, log_q_noise = torch.tensor([0.5]), torch.tensor([[-1.0, 0.0]])
    scores = np.array([2.0 - 0.5, 0.0 + 1.0, 1.0 - 0.0])
    expected = -(scores[0] - np.log(np.exp(scores).sum()))
    assert nce_loss(energy_true, energy_noise, log_q_true, log_q_noise).item() == pytest.approx(
        expected, rel=1e-6)


def test_nce_loss_is_invariant_to_a_constant_shift_of_the_energy():
    energy_true, energy_noise = torch.randn(4), torch.randn(4, 9)
    log_q_true, log_q_noise = torch.randn(4), torch.randn(4, 9)
    base = nce_loss(energy_true, energy_noise, log_q_true, log_q_noise)
    shifted = nce_loss(energy_true + 3.0, energy_noise + 3.0, log_q_true, log_q_noise)
    torch.testing.assert_close(base, shifted)


def test_nce_loss_gives_no_gradient_to_noise_log_densities():
    energy = torch.randn(4, 10, requires_grad=True)
    log_q = torch.randn(4, 10, requires_grad=True)
    nce_loss(energy[:, 0], energy[:, 1:], log_q[:, 0], log_q[:, 1:]).backward()
    assert log_q.grad is None
    assert energy.grad.abs().sum() > 0


def test_proposal_kl_loss_gives_no_gradient_to_energies():
    energy = torch.randn(4, 10, requires_grad=True)
    log_q = torch.randn(4, 10, requires_grad=True)
    proposal_kl_loss(energy, log_q).backward()
    assert energy.grad is None
    assert log_q.grad.abs().sum() > 0


def test_proposal_kl_gradient_estimates_gradient_of_kl_divergence():
    # p = N(0, 1) given by its exact log density as the energy; q = N(mu, 1).
    # KL(p || q) = mu^2 / 2, so d KL / d mu = mu (Result 1 of the paper).
    mu = torch.tensor(0.7, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    params = MixtureParameters(torch.zeros(256, 1), mu.expand(256, 1, 1),
                               torch.zeros(256, 1, 1))
    samples = samples_from_base_draws(params, torch.rand(256, 2048, generator=generator),
                             torch.randn(256, 2048, 1, generator=generator))
    energy = -0.5 * samples[..., 0] ** 2
    proposal_kl_loss(energy, mixture_log_prob(params, samples)).backward()
    assert mu.grad.item() == pytest.approx(0.7, abs=0.03)


def test_distillation_loss_interpolates_nll_and_kl():
    log_q_true = torch.randn(5)
    energy, log_q = torch.randn(5, 8), torch.randn(5, 8)
    nll, kl = mixture_nll(log_q_true), proposal_kl_loss(energy, log_q)
    torch.testing.assert_close(distillation_loss(log_q_true, energy, log_q, 0.0), nll)
    torch.testing.assert_close(distillation_loss(log_q_true, energy, log_q, 0.25),
                               0.75 * nll + 0.25 * kl)


def test_kl_value_estimates_log_normaliser():
    # With f = log N(y; 0, 2^2) + log 5, Z = 5 whatever the proposal.
    generator = torch.Generator().manual_seed(0)
    params = MixtureParameters(torch.zeros(1, 1), torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    samples = samples_from_base_draws(params, torch.rand(1, 50_000, generator=generator),
                             torch.randn(1, 50_000, 1, generator=generator))
    energy = -0.5 * (samples[..., 0] / 2) ** 2 - math.log(2 * math.sqrt(2 * math.pi)) + math.log(5)
    value = proposal_kl_loss(energy, mixture_log_prob(params, samples))
    assert value.item() == pytest.approx(math.log(5), abs=0.05)
