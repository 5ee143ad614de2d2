"""ResNet-18 (He et al., 2016) as a feature extractor, written in plain PyTorch.

The paper's image experiments extract 512 features from each image with a
ResNet-18. This module builds that network from the description in
*Deep Residual Learning for Image Recognition* (CVPR 2016, Table 1 and Sec. 3):
a 7x7 stride-2 convolution and 3x3 stride-2 max pooling, four stages of two
basic blocks (two 3x3 convolutions with batch normalisation) of 64, 128, 256
and 512 channels, where the first block of stages 2-4 halves the resolution
and uses a 1x1 projection shortcut (option B), and global average pooling.
The classification layer is left out. torchvision is not needed.

The parameter names follow the layout common to ResNet checkpoints
(``conv1``, ``bn1``, ``layer1.0.conv1``, ..., ``layer4.1.bn2``, with
``downsample.0``/``downsample.1`` for projection shortcuts), so weights saved
in that layout can be passed as ``weights``; nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from skebm.nn._checks import positive_int
from skebm.nn.conv import BatchNorm2d

__all__ = ["ResNet18Extractor", "load_resnet_weights"]

_STAGE_WIDTHS = (64, 128, 256, 512)
_BLOCKS_PER_STAGE = 2


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch normalisation and a shortcut connection.

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, where the shortcut
    is the identity, or a strided 1x1 convolution with batch normalisation when
    the block changes the resolution or the number of channels.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels entering and leaving the block.
    stride : int, default=1
        Stride of the first convolution (2 halves the resolution).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                BatchNorm2d(out_channels),
            )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, in_channels, H, W)``
            The feature maps.

        Returns
        -------
        Tensor of shape ``(batch, out_channels, H', W')``
            The block's output, ``H' = H / stride``.
        """
        shortcut = inputs if self.downsample is None else self.downsample(inputs)
        hidden = self.relu(self.bn1(self.conv1(inputs)))
        return self.relu(self.bn2(self.conv2(hidden)) + shortcut)


class ResNet18Extractor(nn.Module):
    """ResNet-18 without its classifier: images to 512 features.

    Randomly initialised (He initialisation of the convolutions, unit-scale
    batch normalisation) unless ``weights`` are given. Works for any image of
    at least 1x1 pixels; the paper uses 64x64 images, where the last stage sees
    a 2x2 map.

    Parameters
    ----------
    in_channels : int, default=3
        Channels C of the input images.
    weights : str, os.PathLike or mapping, default=None
        Initial weights: a state dict, or the path of a file holding one (read
        with ``torch.load(..., map_location="cpu", weights_only=True)``). See
        :func:`load_resnet_weights` for the accepted layouts.

    Attributes
    ----------
    out_features : int
        512, the size of the features the module returns.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import ResNet18Extractor
    >>> ResNet18Extractor(in_channels=1)(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 512])
    """

    def __init__(self, in_channels: int = 3, weights=None) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        self.conv1 = nn.Conv2d(in_channels, _STAGE_WIDTHS[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = BatchNorm2d(_STAGE_WIDTHS[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        width = _STAGE_WIDTHS[0]
        for index, stage_width in enumerate(_STAGE_WIDTHS):
            stride = 1 if index == 0 else 2
            blocks = [BasicBlock(width, stage_width, stride)]
            blocks += [BasicBlock(stage_width, stage_width) for _ in range(_BLOCKS_PER_STAGE - 1)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
            width = stage_width
        self.out_features = width
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if weights is not None:
            load_resnet_weights(self, weights)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Extract features from a batch of images.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, C, H, W)``
            The images.

        Returns
        -------
        Tensor of shape ``(batch, 512)``
            The features of each image.
        """
        hidden = self.maxpool(self.relu(self.bn1(self.conv1(inputs))))
        for index in range(len(_STAGE_WIDTHS)):
            hidden = getattr(self, f"layer{index + 1}")(hidden)
        return hidden.mean(dim=(2, 3))


def load_resnet_weights(model: ResNet18Extractor, weights) -> None:
    """Copy ResNet-18 weights into ``model`` in place.

    Parameters
    ----------
    model : ResNet18Extractor
        The network to initialise.
    weights : str, os.PathLike or mapping
        A state dict or the path of a file holding one, loaded on the CPU with
        ``weights_only=True`` (no arbitrary code runs). A checkpoint that wraps
        the state dict under ``"state_dict"`` is unwrapped, a ``"module."``
        prefix (from ``nn.DataParallel``) is dropped, and classifier weights
        (``fc.*``) are ignored. RGB weights initialise a one-channel model by
        summing the first convolution's filters over the colour channels.

    Raises
    ------
    FileNotFoundError
        If ``weights`` is a path that does not exist.
    ValueError
        If the weights do not fit the network (missing, extra or misshapen
        entries).
    """
    if isinstance(weights, (str, os.PathLike)):
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"ResNet-18 weights file {os.fspath(weights)!r} not found.")
        weights = torch.load(weights, map_location="cpu", weights_only=True)
    if not isinstance(weights, Mapping):
        raise TypeError(
            f"weights must be a state dict or a file path, got {type(weights).__name__}."
        )
    if isinstance(weights.get("state_dict"), Mapping):
        weights = weights["state_dict"]
    state = {
        key.removeprefix("module."): value
        for key, value in weights.items()
        if not key.removeprefix("module.").startswith("fc.")
    }
    first = state.get("conv1.weight")
    expected = model.conv1.weight.shape
    if (isinstance(first, torch.Tensor) and first.ndim == 4 and first.shape != expected
            and expected[1] == 1 and first.shape[0] == expected[0]):
        state["conv1.weight"] = first.sum(dim=1, keepdim=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"The weights do not fit a ResNet-18 extractor: {error}") from error
