"""The energy head f(h_x, y): a scalar score for every (input, target) pair."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EnergyHead"]


class EnergyHead(nn.Module):
    """Scores pairs of input features and targets, f(h_x, y) -> R.

    The network is ``f = w3 . relu(W2 relu(Ax h_x + Ay g(y) + b) + b2) + b3 - |y|^2 / 2s^2``
    with ``g(y) = relu(W1 y + b1)``. Because the first joint layer is linear, the
    input-dependent part ``Ax h_x`` is computed once per row and broadcast over
    the ``M`` targets of that row instead of once per (row, target) pair.

    The last term is a broad Gaussian base measure (``s = base_std``, in the
    standardised target units the estimators use). Inside the data it is a
    gentle slope the network absorbs; far outside it makes f fall to minus
    infinity, so exp f is always normalisable. Without it a ReLU network grows
    linearly in ``|y|`` and the density of far-away targets is meaningless.

    Parameters
    ----------
    feature_dim : int
        Size of the input features h_x.
    target_dim : int
        Dimension d of the targets.
    hidden_size : int
        Width of every hidden layer.
    base_std : float, default=4.0
        Standard deviation s of the Gaussian base measure.
    """

    def __init__(
        self, feature_dim: int, target_dim: int, hidden_size: int, base_std: float = 4.0
    ) -> None:
        super().__init__()
        self.base_precision = 1.0 / base_std**2
        self.target_net = nn.Sequential(nn.Linear(target_dim, hidden_size), nn.ReLU())
        self.input_projection = nn.Linear(feature_dim, hidden_size)
        self.target_projection = nn.Linear(hidden_size, hidden_size, bias=False)
        self.joint_net = nn.Sequential(
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 1),
        )

    def project_inputs(self, features: torch.Tensor) -> torch.Tensor:
        """Compute the per-row part of the first joint layer.

        Parameters
        ----------
        features : Tensor of shape ``(batch, feature_dim)``
            The input features h_x.

        Returns
        -------
        Tensor of shape ``(batch, hidden)``
            The projected features.
        """
        return self.input_projection(features)

    def embed_targets(self, targets: torch.Tensor) -> torch.Tensor:
        """Compute the per-target part of the first joint layer.

        Parameters
        ----------
        targets : Tensor of shape ``(..., M, d)``
            The targets.

        Returns
        -------
        Tensor of shape ``(..., M, hidden)``
            The embedded targets.
        """
        return self.target_projection(self.target_net(targets))

    def combine(
        self, projected: torch.Tensor, embedded: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Score targets from the per-row and per-target parts, broadcast over each other.

        Parameters
        ----------
        projected : Tensor of shape ``(batch, hidden)``
            From :meth:`project_inputs`.
        embedded : Tensor of shape ``(batch, M, hidden)`` or ``(1, M, hidden)``
            From :meth:`embed_targets`; a shared ``(1, M, hidden)`` embedding
            scores the same targets for every row at the cost of one.
        targets : Tensor of shape ``(batch, M, d)`` or ``(1, M, d)``
            The targets that were embedded.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies f(h_x, y).
        """
        score = self.joint_net(embedded + projected.unsqueeze(1)).squeeze(-1)
        return score - 0.5 * self.base_precision * targets.square().sum(-1)

    def score_projected(self, projected: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Score targets given inputs already projected by :meth:`project_inputs`.

        Parameters
        ----------
        projected : Tensor of shape ``(batch, hidden)``
            From :meth:`project_inputs`.
        targets : Tensor of shape ``(batch, M, d)``
            The targets to score.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies f(h_x, y).
        """
        return self.combine(projected, self.embed_targets(targets), targets)

    def forward(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Score ``M`` targets per row.

        Parameters
        ----------
        features : Tensor of shape ``(batch, feature_dim)``
            The input features h_x.
        targets : Tensor of shape ``(batch, M, d)``
            The targets to score.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies f(h_x, y).
        """
        return self.score_projected(self.project_inputs(features), targets)
