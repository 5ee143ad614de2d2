"""A small convolutional feature extractor for image inputs ``(batch, C, H, W)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

from skebm.nn._checks import layer_sizes, positive_int

__all__ = ["ConvExtractor"]


class BatchNorm2d(nn.BatchNorm2d):
    """Batch normalisation that tolerates a training batch of one value per channel.

    A batch holding a single value per channel (one image whose feature map is
    ``1 x 1``, as at the end of a deep network on a small image) has no spread
    to normalise by; :class:`torch.nn.BatchNorm2d` raises there. This variant
    normalises such a batch with the running statistics instead and leaves them
    unchanged. Every other batch is handled exactly as by the parent class, and
    the parameter names are the same, so state dicts are interchangeable.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    eps, momentum, affine, track_running_stats, device, dtype, bias : optional
        As for :class:`torch.nn.BatchNorm2d`.
    """

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalise a batch of feature maps.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, C, H, W)``
            The feature maps.

        Returns
        -------
        Tensor of shape ``(batch, C, H, W)``
            The normalised feature maps.
        """
        batch, _, height, width = inputs.shape
        if self.training and batch * height * width == 1 and self.running_mean is not None:
            return functional.batch_norm(inputs, self.running_mean, self.running_var,
                                         self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(inputs)


class ConvExtractor(nn.Module):
    """A small convolutional network: conv-BN-ReLU stages and global average pooling.

    Each stage is a 3x3 convolution, batch normalisation and a ReLU. The first
    stage keeps the full resolution and every later one halves it with a
    stride-2 convolution, so the default four stages see the image at full,
    1/2, 1/4 and 1/8 resolution. Global average pooling turns the last feature
    map into the feature vector, which suits targets that add up over the
    image (counts, areas, intensities) and works for any image size. About 60k
    parameters by default; an epoch over a few thousand 32x32 images takes
    seconds on a CPU.

    Parameters
    ----------
    in_channels : int
        Channels C of the input images.
    channels : sequence of int, default=(16, 32, 64, 64)
        Output channels of each stage; the last one is the feature size.

    Attributes
    ----------
    out_features : int
        Size of the features the module returns.

    Raises
    ------
    TypeError, ValueError
        If ``in_channels`` or a stage's channels are not a positive integer,
        or ``channels`` is empty.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import ConvExtractor
    >>> ConvExtractor(in_channels=3)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 64])
    """

    def __init__(self, in_channels: int, channels: Sequence[int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = positive_int(in_channels, "in_channels")
        for index, size in enumerate(layer_sizes(channels, "channels", "stage")):
            stride = 1 if index == 0 else 2
            layers += [
                nn.Conv2d(width, size, kernel_size=3, stride=stride, padding=1, bias=False),
                BatchNorm2d(size),
                nn.ReLU(),
            ]
            width = size
        self.net = nn.Sequential(*layers)
        self.out_features = width
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Extract features from a batch of images.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, C, H, W)``
            The images.

        Returns
        -------
        Tensor of shape ``(batch, out_features)``
            The features of each image.
        """
        return self.net(inputs).mean(dim=(2, 3))
