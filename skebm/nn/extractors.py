"""Feature extractors: modules mapping a batch of inputs to ``(batch, features)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLPExtractor", "build_extractor"]


class MLPExtractor(nn.Module):
    """A fully connected ReLU network for tabular inputs.

    Parameters
    ----------
    in_features : int
        Number of input columns.
    hidden_sizes : sequence of int, default=(64, 64)
        Width of each hidden layer; the last one is the feature size.

    Attributes
    ----------
    out_features : int
        Size of the features the module returns.
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if len(hidden_sizes) == 0:
            raise ValueError("hidden_sizes must name at least one layer.")
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_features)`` to ``(batch, out_features)``."""
        return self.net(inputs.flatten(1))


def build_extractor(name: str, input_shape: tuple[int, ...], **kwargs) -> nn.Module:
    """Build a built-in extractor by name for inputs of shape ``(batch, *input_shape)``.

    Parameters
    ----------
    name : {"mlp"}
        The extractor to build.
    input_shape : tuple of int
        Shape of one input row (without the batch axis).
    **kwargs
        Passed to the extractor's constructor.

    Returns
    -------
    nn.Module
        A module with an ``out_features`` attribute.
    """
    if name == "mlp":
        in_features = 1
        for size in input_shape:
            in_features *= size
        return MLPExtractor(in_features, **kwargs)
    raise ValueError(f"Unknown feature extractor {name!r}.")
