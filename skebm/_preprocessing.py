"""Standardisation of inputs and targets, learned in ``fit`` and undone on output."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["Standardizer"]


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
        self.mean = values.mean(axis=0)
        scale = values.std(axis=0)
        tiny = np.finfo(np.float64).eps * np.maximum(np.abs(self.mean), 1.0) * 10.0
        self.scale = np.where(scale > tiny, scale, 1.0)

    def transform(self, values: np.ndarray) -> torch.Tensor:
        """Standardised float32 tensor of ``values``."""
        standard = (np.asarray(values, dtype=np.float64) - self.mean) / self.scale
        return torch.from_numpy(np.ascontiguousarray(standard, dtype=np.float32))
