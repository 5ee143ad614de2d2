"""A straightforward implementation of the paper's training loop: the speed yardstick.

Written from the paper's description (Sec. 3.2, eqs. 5-6, the 1-D networks of
Sec. 5.1): the x features are repeated for every (row, sample) pair and
concatenated with the y features, and the mixture proposal is built from
``torch.distributions`` objects in every iteration. This is what a direct
transcription of the algorithm costs; ``speed.py`` compares skebm against it.
"""

from __future__ import annotations

import math

import torch
from torch import distributions, nn


class PaperNetwork(nn.Module):
    """f(x, y) from concatenated 10-d x and y features, plus an MDN head on h_x."""

    def __init__(self, n_components: int = 4, width: int = 10) -> None:
        super().__init__()
        self.x_net = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width),
                                   nn.ReLU())
        self.y_net = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width),
                                   nn.ReLU())
        self.xy_net = nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(), nn.Linear(width, 1))
        self.mdn = nn.Sequential(nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, 3 * n_components))
        self.n_components = n_components

    def proposal(self, h_x: torch.Tensor) -> distributions.MixtureSameFamily:
        raw = self.mdn(h_x.detach())
        logits, means, log_stds = raw.split(self.n_components, dim=1)
        return distributions.MixtureSameFamily(
            distributions.Categorical(logits=logits),
            distributions.Normal(means, torch.exp(log_stds)),
        )

    def energy(self, h_x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        batch, n_samples = y.shape
        h_x = h_x.unsqueeze(1).expand(-1, n_samples, -1).reshape(batch * n_samples, -1)
        h_y = self.y_net(y.reshape(-1, 1))
        return self.xy_net(torch.cat([h_x, h_y], dim=1)).view(batch, n_samples)


def train_epoch(network: PaperNetwork, optimizer, x: torch.Tensor, y: torch.Tensor,
                batch_size: int = 32, n_samples: int = 1024) -> float:
    """One epoch of joint NCE + proposal-KL training; returns the mean loss."""
    order = torch.randperm(len(x))
    total = 0.0
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        xs, ys = x[index], y[index]
        h_x = network.x_net(xs)
        q = network.proposal(h_x)
        samples = q.sample((n_samples,)).t()  # (batch, M)
        log_q_samples = q.log_prob(samples.t()).t()
        log_q_true = q.log_prob(ys)
        all_y = torch.cat([ys.unsqueeze(1), samples], dim=1)
        scores = network.energy(h_x, all_y)
        nce_scores = scores - torch.cat([log_q_true.unsqueeze(1), log_q_samples], 1).detach()
        nce = -(nce_scores[:, 0] - torch.logsumexp(nce_scores, dim=1)).mean()
        kl = (torch.logsumexp(scores[:, 1:].detach() - log_q_samples, dim=1)
              - math.log(n_samples)).mean()
        loss = nce + kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / math.ceil(len(x) / batch_size)
