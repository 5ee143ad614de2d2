"""The joint network: shared feature extractor, energy head and proposal head."""

from __future__ import annotations

import torch
from torch import nn

from skebm.nn.energy import EnergyHead
from skebm.nn.mixture import MixtureDensityHead, MixtureParameters, mixture_log_prob

__all__ = ["EnergyModel"]


class EnergyModel(nn.Module):
    """An energy-based regression network with a learned proposal (paper Fig. 1).

    ``f(x, y) = energy_head(extractor(x), y)`` and
    ``q(y | x) = proposal_head(extractor(x).detach())``: the proposal reads the
    shared features but never trains the extractor, which learns from the energy
    loss alone.

    Parameters
    ----------
    extractor : nn.Module
        Maps a batch of inputs to ``(batch, extractor.out_features)``.
    target_dim : int
        Dimension d of the targets.
    n_components : int
        Number of proposal mixture components K.
    hidden_size : int
        Width of the heads' hidden layers.
    residual : bool, default=False
        Residual energy ``f(x, y) = log q(y | x) + g(x, y)``, with the
        proposal's log-density held constant (detached) inside f and g the
        energy head, whose output layer starts at zero: the model starts as the
        proposal and NCE with noise q, whose optimum is ``log p - log q``,
        learns only the correction g.
    """

    def __init__(
        self, extractor: nn.Module, target_dim: int, n_components: int, hidden_size: int,
        residual: bool = False,
    ) -> None:
        super().__init__()
        feature_dim = int(extractor.out_features)
        self.extractor = extractor
        self.residual = bool(residual)
        self.energy_head = EnergyHead(feature_dim, target_dim, hidden_size)
        self.proposal_head = MixtureDensityHead(feature_dim, target_dim, n_components, hidden_size)
        if self.residual:
            output = self.energy_head.joint_net[-1]
            nn.init.zeros_(output.weight)
            nn.init.zeros_(output.bias)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Shared features h_x, ``(batch, features)``."""
        return self.extractor(inputs)

    def proposal(self, features: torch.Tensor) -> MixtureParameters:
        """The proposal mixture q(y | x) from (detached) features."""
        return self.proposal_head(features.detach())

    def energy(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """f(x, y) for targets ``(batch, M, d)``; returns ``(batch, M)``."""
        energy = self.energy_head(features, targets)
        return energy + self.energy_offset(self.proposal(features), targets)

    def energy_offset(self, proposal: MixtureParameters, targets: torch.Tensor) -> torch.Tensor:
        """The part of f not computed by the energy head, ``(batch, M)``.

        ``log q(y | x)`` of the (detached) ``proposal`` for a residual energy, else 0.
        Differentiable in ``targets``, never in the proposal's parameters.
        """
        if not self.residual:
            return torch.zeros(targets.shape[:-1], device=targets.device)
        return mixture_log_prob(proposal.detach(), targets)
