"""The energy head f(h_x, y): a scalar score for every (input, target) pair."""

from __future__ import annotations

import torch
from torch import nn

from skebm.nn.mixture import MixtureDensityHead, MixtureParameters, mixture_log_prob

__all__ = ["EnergyHead"]


class EnergyHead(nn.Module):
    """Scores pairs of input features and targets, f(h_x, y) -> R.

    The energy is ``f = g(h_x, y) + log m(y | h_x) - |y|^2 / 2s^2``, the sum of
    three parts:

    * ``g = w3 . relu(W2 relu(Ax h_x + Ay e(y) + b) + b2) + b3`` with
      ``e(y) = relu(W1 y + b1)``, a ReLU network. Because its first joint layer
      is linear, the input-dependent part ``Ax h_x`` is computed once per row
      and broadcast over the ``M`` targets of that row instead of once per
      (row, target) pair.
    * ``m``, a diagonal Gaussian mixture of ``n_base_components`` components
      whose weights, means and standard deviations are functions of ``h_x``
      (a :class:`MixtureDensityHead` of its own, initialised broad). It gives
      ``f`` the shape of a mixture density network to start from and to keep
      where the data agree with it, while ``g`` learns what a few Gaussians
      cannot: a ReLU network alone is piecewise linear in ``y`` and needs many
      kinks to bend into a smooth bump. ``m`` belongs to ``f`` and is trained
      with it, by NCE; it is not the proposal ``q`` (a residual on ``q``
      itself, ``f = log q + g``, makes ``q``, which is trained towards ``p``,
      chase its own correction). Measured against ``m`` left out, it lowers
      the test NLL on both toy sets and on four of the six UCI tables
      (``benchmarks/RESULTS.md``).
    * A broad Gaussian base measure (``s = base_std``, in the standardised
      target units the estimators use). Far outside the data it makes ``f``
      fall to minus infinity faster than the ReLU network can grow, so
      ``exp f`` is always normalisable.

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
    n_base_components : int, default=4
        Components of the Gaussian mixture ``m``; 0 leaves ``m`` out
        (``f = g - |y|^2 / 2s^2``, the head of skebm 0.1.0, initialised
        identically).
    """

    def __init__(
        self, feature_dim: int, target_dim: int, hidden_size: int, base_std: float = 4.0,
        n_base_components: int = 4,
    ) -> None:
        super().__init__()
        if isinstance(n_base_components, bool) or not isinstance(n_base_components, int) \
                or n_base_components < 0:
            raise ValueError(f"n_base_components must be an integer >= 0, got "
                             f"{n_base_components!r}.")
        self.base_precision = 1.0 / base_std**2
        self.target_net = nn.Sequential(nn.Linear(target_dim, hidden_size), nn.ReLU())
        self.input_projection = nn.Linear(feature_dim, hidden_size)
        self.target_projection = nn.Linear(hidden_size, hidden_size, bias=False)
        self.register_module("base_mixture", MixtureDensityHead(
            feature_dim, target_dim, n_base_components, hidden_size) if n_base_components else None)
        self.joint_net = nn.Sequential(
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 1),
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # Heads pickled by skebm 0.1.0 have no mixture term: they load as they were.
        self._modules.setdefault("base_mixture", None)

    def project_inputs(self, features: torch.Tensor) -> torch.Tensor:
        """Compute everything about a row that does not depend on its targets.

        Parameters
        ----------
        features : Tensor of shape ``(batch, feature_dim)``
            The input features h_x.

        Returns
        -------
        Tensor of shape ``(batch, hidden + K (1 + 2 d))``
            The first joint layer's ``Ax h_x + b`` followed by the raw outputs
            of the mixture ``m`` (none without ``m``); :meth:`combine` takes it.
        """
        projected = self.input_projection(features)
        if self.base_mixture is None:
            return projected
        return torch.cat([projected, self.base_mixture.raw_outputs(features)], dim=-1)

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
        projected : Tensor of shape ``(batch, hidden + K (1 + 2 d))``
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
        return self.combine_decoded(*self.decode_projection(projected), embedded, targets)

    def decode_projection(
        self, projected: torch.Tensor
    ) -> tuple[torch.Tensor, MixtureParameters | None]:
        """Split :meth:`project_inputs`' output into the joint layer's part and the mixture ``m``.

        Decoding once per row lets :meth:`combine_decoded` score many targets
        of a row, gathered per (row, target) pair, without decoding ``m`` per pair.

        Parameters
        ----------
        projected : Tensor of shape ``(batch, hidden + K (1 + 2 d))``
            From :meth:`project_inputs`.

        Returns
        -------
        joint : Tensor of shape ``(batch, hidden)``
            The first joint layer's ``Ax h_x + b``.
        mixture : MixtureParameters or None
            The mixture ``m`` of each row (None without ``m``).
        """
        if self.base_mixture is None:
            return projected, None
        split = projected.shape[-1] - self.base_mixture.n_raw_outputs
        return projected[:, :split], self.base_mixture.mixture_from_raw(projected[:, split:])

    def combine_decoded(
        self, joint: torch.Tensor, mixture: MixtureParameters | None, embedded: torch.Tensor,
        targets: torch.Tensor,
    ) -> torch.Tensor:
        """:meth:`combine` from the parts :meth:`decode_projection` returns.

        Parameters
        ----------
        joint : Tensor of shape ``(batch, hidden)``
            The input features' projection into the joint layer.
        mixture : MixtureParameters or None
            Of ``(batch, K)`` mixtures.
        embedded : Tensor of shape ``(batch, M, hidden)`` or ``(1, M, hidden)``
            The targets' embeddings.
        targets : Tensor of shape ``(batch, M, d)`` or ``(1, M, d)``
            The standardised targets themselves.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies f(h_x, y).
        """
        energy = self.joint_net(embedded + joint.unsqueeze(1)).squeeze(-1)
        if mixture is not None:
            energy = energy + mixture_log_prob(mixture, targets)
        return energy - 0.5 * self.base_precision * targets.square().sum(-1)

    def score_projected(self, projected: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Score targets given inputs already projected by :meth:`project_inputs`.

        Parameters
        ----------
        projected : Tensor of shape ``(batch, hidden + K (1 + 2 d))``
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
