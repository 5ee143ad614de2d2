"""The joint network: shared feature extractor, energy head and proposal head."""

from __future__ import annotations

import torch
from torch import nn

from skebm.nn.energy import EnergyHead
from skebm.nn.mixture import MixtureDensityHead, MixtureParameters

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
    """

    def __init__(
        self, extractor: nn.Module, target_dim: int, n_components: int, hidden_size: int
    ) -> None:
        super().__init__()
        feature_dim = int(extractor.out_features)
        self.extractor = extractor
        self.energy_head = EnergyHead(feature_dim, target_dim, hidden_size)
        self.proposal_head = MixtureDensityHead(feature_dim, target_dim, n_components, hidden_size)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Compute the shared features h_x.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, ...)``
            The preprocessed inputs.

        Returns
        -------
        Tensor of shape ``(batch, features)``
            The features.
        """
        return self.extractor(inputs)

    def proposal(self, features: torch.Tensor) -> MixtureParameters:
        """Compute the proposal mixture q(y | x) from (detached) features.

        Parameters
        ----------
        features : Tensor of shape ``(batch, features)``
            From :meth:`features`.

        Returns
        -------
        MixtureParameters
            One mixture per row.
        """
        return self.proposal_head(features.detach())

    def energy(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Compute the energies f(x, y) of ``M`` targets per row.

        Parameters
        ----------
        features : Tensor of shape ``(batch, features)``
            From :meth:`features`.
        targets : Tensor of shape ``(batch, M, d)``
            The targets to score.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies.
        """
        return self.energy_head(features, targets)
