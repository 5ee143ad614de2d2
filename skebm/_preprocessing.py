"""Standardisation of inputs and targets, learned in ``fit`` and undone on output."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["ImageStandardizer", "Standardizer"]

_IMAGES_PER_CHUNK = 256


class Standardizer:
    """Per-column affine standardisation ``(values - mean) / scale`` along axis 0.

    Columns with zero spread keep a scale of 1, so constant features and
    constant targets are left centred instead of divided by zero.

    Parameters
    ----------
    values : ndarray of shape (n, p)
        Data to learn the mean and scale from.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        # Divide by each column's largest magnitude first: sums of squares of
        # values near the float64 limit would overflow to an infinite scale.
        peak = np.max(np.abs(values), axis=0) if len(values) else np.ones(values.shape[1:])
        peak = np.where(peak > 0.0, peak, 1.0)
        self.mean = (values / peak).mean(axis=0) * peak
        scale = (values / peak).std(axis=0) * peak
        tiny = np.finfo(np.float64).eps * peak * 10.0  # rounding noise of a constant column
        self.scale = np.where(scale > tiny, scale, 1.0)

    def transform(self, values: np.ndarray) -> torch.Tensor:
        """Standardised float32 tensor of ``values``."""
        standard = (np.asarray(values, dtype=np.float64) - self.mean) / self.scale
        return torch.from_numpy(np.ascontiguousarray(standard, dtype=np.float32))


class ImageStandardizer:
    """Per-channel standardisation of images ``(n, C, H, W)``.

    ``uint8`` images are first divided by 255, so that the learned statistics
    are on the usual ``[0, 1]`` intensity scale; other dtypes are used as they
    are. Then every pixel of channel c becomes ``(value - mean[c]) / scale[c]``,
    with the mean and standard deviation of that channel over all training
    images and pixels. A constant channel keeps a scale of 1. Work is done in
    chunks of images, so no float64 copy of the whole data set is made.

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
        Training images, any real dtype.

    Attributes
    ----------
    value_scale : float
        Divisor applied before standardising: 255 for ``uint8``, else 1.
    mean, scale : ndarray of shape (C,)
        Per-channel statistics of ``images / value_scale``.
    """

    def __init__(self, images: np.ndarray) -> None:
        self.value_scale = 255.0 if images.dtype == np.uint8 else 1.0
        channels = images.shape[1]
        # Statistics of values divided by each channel's peak magnitude, so that
        # sums of squares cannot overflow whatever the input range.
        peak = np.zeros(channels)
        for block in self._blocks(images, np.float64):
            peak = np.maximum(peak, np.abs(block).max(axis=(0, 2, 3)))
        peak = np.where(peak > 0.0, peak, 1.0)
        per_channel = images.size // channels
        total, squares = np.zeros(channels), np.zeros(channels)
        for block in self._blocks(images, np.float64):
            total += (block / peak[:, None, None]).sum(axis=(0, 2, 3))
        mean = total / per_channel
        for block in self._blocks(images, np.float64):
            centred = block / peak[:, None, None] - mean[:, None, None]
            squares += np.square(centred).sum(axis=(0, 2, 3))
        scale = np.sqrt(squares / per_channel) * peak
        tiny = np.finfo(np.float64).eps * peak * 10.0  # rounding noise of a constant channel
        self.mean = mean * peak
        self.scale = np.where(scale > tiny, scale, 1.0)

    def _blocks(self, images: np.ndarray, dtype):
        for start in range(0, images.shape[0], _IMAGES_PER_CHUNK):
            block = images[start : start + _IMAGES_PER_CHUNK].astype(dtype)
            yield block / self.value_scale if self.value_scale != 1.0 else block

    def transform(self, images: np.ndarray) -> torch.Tensor:
        """Standardised float32 tensor of ``images``, ``(n, C, H, W)``."""
        mean = self.mean.astype(np.float32)[:, None, None]
        scale = self.scale.astype(np.float32)[:, None, None]
        out = torch.empty(images.shape, dtype=torch.float32)
        for index, block in enumerate(self._blocks(images, np.float32)):
            start = index * _IMAGES_PER_CHUNK
            standard = np.ascontiguousarray((block - mean) / scale, dtype=np.float32)
            out[start : start + len(block)] = torch.from_numpy(standard)
        return out
