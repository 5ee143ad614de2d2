"""Diagonal Gaussian mixtures: the proposal head q(y | x) and its log-density and sampler.

All densities are computed in log space; mixture weights are log-softmax
outputs and standard deviations have a floor, so nothing overflows or divides
by zero.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional

from skebm.nn._rows import drawn_rows

__all__ = ["MixtureDensityHead", "MixtureParameters", "mixture_log_prob", "sample_mixture"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class MixtureParameters(NamedTuple):
    """Parameters of a batch of diagonal Gaussian mixtures.

    Parameters
    ----------
    log_weights : Tensor of shape ``(batch, K)``
        Normalised log mixture weights.
    means : Tensor of shape ``(batch, K, d)``
        Component means.
    log_stds : Tensor of shape ``(batch, K, d)``
        Log standard deviations of the components.
    """

    log_weights: torch.Tensor
    means: torch.Tensor
    log_stds: torch.Tensor

    def detach(self) -> MixtureParameters:
        """Cut the mixtures from the autograd graph.

        Returns
        -------
        MixtureParameters
            The same mixtures, detached.
        """
        return MixtureParameters(*(tensor.detach() for tensor in self))


def mixture_log_prob(params: MixtureParameters, targets: torch.Tensor) -> torch.Tensor:
    """Log density of ``targets`` of shape ``(batch, M, d)`` under each row's mixture.

    Parameters
    ----------
    params : MixtureParameters
        The mixtures, one per row.
    targets : Tensor of shape ``(batch, M, d)``
        The points to evaluate.

    Returns
    -------
    Tensor of shape ``(batch, M)``
        The log densities.
    """
    inverse_stds = torch.exp(-params.log_stds).unsqueeze(1)  # (batch, 1, K, d)
    standardised = (targets.unsqueeze(2) - params.means.unsqueeze(1)) * inverse_stds
    # Everything that does not depend on the targets, folded once per row: (batch, 1, K)
    constant = params.log_weights - params.log_stds.sum(-1) - targets.shape[-1] * _LOG_SQRT_2PI
    return torch.logsumexp(constant.unsqueeze(1) - 0.5 * standardised.square().sum(-1), dim=-1)


def sample_mixture(
    params: MixtureParameters, n_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``n_samples`` independent samples per row, without gradient.

    Parameters
    ----------
    params : MixtureParameters
        The mixtures, one per row.
    n_samples : int
        Samples per row.
    generator : torch.Generator, default=None
        Source of the random numbers, on the mixture's device; ``None`` uses
        PyTorch's global generator.

    Returns
    -------
    Tensor of shape ``(batch, n_samples, d)``
        The samples.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import MixtureParameters, sample_mixture
    >>> standard_normal = MixtureParameters(torch.zeros(2, 1), torch.zeros(2, 1, 3),
    ...                                     torch.zeros(2, 1, 3))
    >>> sample_mixture(standard_normal, 5, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 5, 3])
    """
    batch, _, dim = params.means.shape
    device = params.means.device if generator is None else generator.device
    rows, kept = drawn_rows(batch)  # a share of a minibatch draws as the whole one
    uniforms = torch.rand(rows, n_samples, generator=generator, device=device)
    normals = torch.randn(rows, n_samples, dim, generator=generator, device=device)
    if kept is not None:
        uniforms, normals = uniforms[kept], normals[kept]
    return samples_from_base_draws(params, uniforms, normals)


def samples_from_base_draws(
    params: MixtureParameters, uniforms: torch.Tensor, normals: torch.Tensor
) -> torch.Tensor:
    """Turn base random numbers into mixture samples (no gradient flows through them).

    The transform behind :func:`sample_mixture`. Passing the base draws in
    lets inference reuse the same draws for every row (common random
    numbers), which makes results independent of how rows are chunked.

    Parameters
    ----------
    params : MixtureParameters
        The mixtures, batch size ``B``.
    uniforms : Tensor of shape ``(B, M)`` or ``(M,)``
        Uniform(0, 1) draws choosing the component of each sample.
    normals : Tensor of shape ``(B, M, d)`` or ``(M, d)``
        Standard normal draws.

    Returns
    -------
    Tensor of shape ``(B, M, d)``
        The samples.
    """
    with torch.no_grad():
        batch = params.means.shape[0]
        n_samples = uniforms.shape[-1]
        cumulative = torch.cumsum(torch.exp(params.log_weights), dim=-1)  # (B, K)
        component = torch.searchsorted(
            cumulative.contiguous(), uniforms.expand(batch, n_samples).contiguous()
        ).clamp_(max=cumulative.shape[-1] - 1)  # (B, M)
        index = component.unsqueeze(-1).expand(-1, -1, params.means.shape[-1])
        means = torch.gather(params.means, 1, index)
        stds = torch.exp(torch.gather(params.log_stds, 1, index))
        return means + stds * normals


def fixed_gaussian_noise(centers: torch.Tensor, sigmas: torch.Tensor) -> MixtureParameters:
    """The NCE baseline noise q(y | y_i) = (1/K) sum_k N(y; y_i, diag sigma_k^2).

    Parameters
    ----------
    centers : Tensor of shape ``(batch, d)``
        The true targets y_i.
    sigmas : Tensor of shape ``(K, d)``
        Standard deviations of the K components.

    Returns
    -------
    MixtureParameters
        Equal-weight mixtures centred on each target.
    """
    batch, n_components = centers.shape[0], sigmas.shape[0]
    log_weights = torch.full(
        (batch, n_components), -math.log(n_components), dtype=centers.dtype, device=centers.device
    )
    means = centers.unsqueeze(1).expand(-1, n_components, -1)
    log_stds = torch.log(sigmas).unsqueeze(0).expand(batch, -1, -1)
    return MixtureParameters(log_weights, means, log_stds)


class MixtureDensityHead(nn.Module):
    """Maps features to a K-component diagonal Gaussian mixture over d-dimensional y.

    Parameters
    ----------
    feature_dim : int
        Size of the input features.
    target_dim : int
        Dimension d of the targets.
    n_components : int
        Number of mixture components K.
    hidden_size : int
        Width of the hidden layer.
    min_std : float, default=1e-3
        Floor on every component standard deviation.

    Notes
    -----
    The output layer is initialised so that the initial mixture is broad (unit
    standard deviations, means spread over [-1, 1]) in the standardised target
    space: early noise samples then cover the data instead of collapsing.
    """

    def __init__(
        self,
        feature_dim: int,
        target_dim: int,
        n_components: int,
        hidden_size: int,
        min_std: float = 1e-3,
    ) -> None:
        super().__init__()
        self.target_dim = target_dim
        self.n_components = n_components
        self.min_std = min_std
        self.hidden = nn.Sequential(nn.Linear(feature_dim, hidden_size), nn.ReLU())
        self.output = nn.Linear(hidden_size, n_components * (1 + 2 * target_dim))
        self._initialise_output()

    def _initialise_output(self) -> None:
        k, d = self.n_components, self.target_dim
        with torch.no_grad():
            self.output.weight.mul_(0.1)
            bias = self.output.bias.view(k, 1 + 2 * d)
            bias[:, 0] = 0.0
            spread = torch.linspace(-1.0, 1.0, k) if k > 1 else torch.zeros(1)
            bias[:, 1 : 1 + d] = spread.unsqueeze(1)
            # softplus(raw) + min_std = 1  <=>  raw = log(exp(1 - min_std) - 1)
            bias[:, 1 + d :] = math.log(math.expm1(1.0 - self.min_std))

    def forward(self, features: torch.Tensor) -> MixtureParameters:
        """Compute the mixture parameters from input features.

        Parameters
        ----------
        features : Tensor of shape ``(batch, feature_dim)``
            The input features h_x.

        Returns
        -------
        MixtureParameters
            One mixture per row.
        """
        return self.mixture_from_raw(self.raw_outputs(features))

    @property
    def n_raw_outputs(self) -> int:
        """Size of :meth:`raw_outputs`' last axis, ``K (1 + 2 d)``."""
        return self.n_components * (1 + 2 * self.target_dim)

    def raw_outputs(self, features: torch.Tensor) -> torch.Tensor:
        """The unconstrained outputs from which :meth:`mixture_from_raw` builds the mixtures.

        Parameters
        ----------
        features : Tensor of shape ``(batch, feature_dim)``
            The input features h_x.

        Returns
        -------
        Tensor of shape ``(batch, K (1 + 2 d))``
            Per component: a weight logit, ``d`` means and ``d`` raw scales.
        """
        return self.output(self.hidden(features))

    def mixture_from_raw(self, raw: torch.Tensor) -> MixtureParameters:
        """The mixtures given by raw outputs.

        Parameters
        ----------
        raw : Tensor of shape ``(batch, K (1 + 2 d))``
            From :meth:`raw_outputs`.

        Returns
        -------
        MixtureParameters
            One mixture per row: log-softmax weights, the means, and standard
            deviations ``softplus(raw) + min_std``.
        """
        k, d = self.n_components, self.target_dim
        raw = raw.view(-1, k, 1 + 2 * d)
        log_weights = torch.log_softmax(raw[..., 0], dim=-1)
        means = raw[..., 1 : 1 + d]
        stds = functional.softplus(raw[..., 1 + d :]) + self.min_std
        return MixtureParameters(log_weights, means, torch.log(stds))
