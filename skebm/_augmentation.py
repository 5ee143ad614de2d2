"""Random flips and crops of training images, drawn per batch on the device.

Light augmentation for image regression whose target does not change when an
image is mirrored left-right or shifted by a few pixels (counts, areas, age).
Applied to standardised batches, so the zero padding of a crop is the
channel's training mean.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from skebm._training import BatchLoss

__all__ = ["AUGMENTATIONS", "augment_images", "augmented_loss", "crop_padding"]

AUGMENTATIONS = frozenset({"flip", "crop", "flip+crop"})
"""Values of the estimators' ``augmentation`` parameter besides ``None``."""


def crop_padding(height: int, width: int) -> int:
    """Largest shift of a random crop: an eighth of the shorter side, at least 1 pixel."""
    return max(1, min(height, width) // 8)


def augment_images(images: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """A randomly flipped and/or shifted copy of a batch ``(batch, C, H, W)``.

    Parameters
    ----------
    images : Tensor of shape (batch, C, H, W)
        Standardised images.
    kind : {"flip", "crop", "flip+crop"}
        ``"flip"`` mirrors each image left-right with probability 1/2;
        ``"crop"`` pads each side by :func:`crop_padding` zeros and crops the
        original size at a uniformly random offset (a shift of up to that many
        pixels along each axis); ``"flip+crop"`` does both.
    generator : torch.Generator
        Source of randomness, on the device of ``images``.

    Returns
    -------
    Tensor of shape (batch, C, H, W)
    """
    if kind not in AUGMENTATIONS:
        raise ValueError(f"kind must be one of {sorted(AUGMENTATIONS)}, got {kind!r}.")
    if "crop" in kind:
        images = _random_crop(images, generator)
    if "flip" in kind:
        images = _random_flip(images, generator)
    return images


def augmented_loss(batch_loss: BatchLoss, kind: str, generator: torch.Generator) -> BatchLoss:
    """``batch_loss`` evaluated on augmented inputs (see :func:`augment_images`)."""

    def loss(inputs: torch.Tensor, targets: torch.Tensor):
        return batch_loss(augment_images(inputs, kind, generator), targets)

    return loss


def _random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def _random_crop(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    batch, _, height, width = images.shape
    padding = crop_padding(height, width)
    padded = functional.pad(images, (padding, padding, padding, padding))
    device = images.device
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator, device=device)
    rows = offsets[0][:, None] + torch.arange(height, device=device)  # (batch, H)
    columns = offsets[1][:, None] + torch.arange(width, device=device)  # (batch, W)
    which = torch.arange(batch, device=device)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[which, rows[:, :, None], columns[:, None, :]]
    return crops.permute(0, 3, 1, 2).contiguous()  # (batch, C, H, W)
