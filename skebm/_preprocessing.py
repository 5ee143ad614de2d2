"""Standardisation of inputs and targets, learned in ``fit`` and undone on output."""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["ImageStandardizer", "Standardizer", "TableStandardizer", "image_blocks",
           "quantile_bin_edges"]

MIN_BIN_WIDTH = 1e-3
"""Narrowest bin of the input encoding, in the (standardised) columns' units."""
_VALUES_PER_BLOCK = 2**22
"""Image values read at once by the streamed statistics (32 MB as float64)."""
OUTLIER_RATIO = 10.0
"""A table column whose standard deviation exceeds this many robust spreads is
scaled by its median and robust spread instead of its mean and standard deviation."""
LINEAR_RANGE = 10.0
"""Robust spreads from the median within which a robustly scaled column stays
linear; farther values are compressed logarithmically."""
_CENTRAL_98_WIDTH = 4.6527
"""Width of the central 98 % of a standard normal: (q99 - q01) / this is its sigma."""


class Standardizer:
    """Per-column affine standardisation ``(values - mean) / scale`` along axis 0.

    Columns with zero spread keep a scale of 1, so constant features and
    constant targets are left centred instead of divided by zero.

    Parameters
    ----------
    values : ndarray of shape (n, p)
        Data to learn the mean and scale from.

    Attributes
    ----------
    mean, scale : ndarray of shape (p,)
        Each column's mean and scale.
    constant : ndarray of shape (p,)
        Whether each column's spread is no more than its rounding noise (its
        scale is then 1).
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
        self.constant = ~(scale > tiny)
        self.scale = np.where(self.constant, 1.0, scale)

    def transform(self, values: np.ndarray) -> torch.Tensor:
        """Standardised float32 tensor of ``values``.

        Values beyond float32's range become infinite without a warning: the
        networks' outputs are checked, and a non-finite one raises an error
        that names the inputs.
        """
        standard = (np.asarray(values, dtype=np.float64) - self.mean) / self.scale
        with np.errstate(over="ignore"):
            return torch.from_numpy(np.ascontiguousarray(standard, dtype=np.float32))


class TableStandardizer(Standardizer):
    """Standardisation of table columns that a few extreme values cannot flatten.

    Most columns are scaled as by :class:`Standardizer`, ``(x - mean) / std``.
    A column whose standard deviation exceeds :data:`OUTLIER_RATIO` times
    its robust spread -- the width of its central 98 % divided by 4.65, the
    standard deviation for normal data -- owes its scale to a few extreme
    values (one value of 1e12 among standard normal ones gives a standard
    deviation of 6e10, which would squeeze every other row onto one float32
    number). Such a column is centred on its median and divided by its robust
    spread; values farther than :data:`LINEAR_RANGE` spreads from the median
    are compressed logarithmically, ``L (1 + log(|z| / L))`` with the sign of
    ``z``, which keeps their order and keeps them within a few hundred.

    A column constant in training carries no information, so it is
    standardised to 0 whatever its value at prediction time.

    A :class:`UserWarning` names any column whose distinct training values
    still coincide once scaled to float32 (possible only for columns whose
    central 98 % is a single value but that reach far from it).

    Parameters
    ----------
    values : ndarray of shape (n, p)
        The training table, finite float64.

    Attributes
    ----------
    mean, scale : ndarray of shape (p,)
        Each column's centre (its mean, or its median if robust) and scale.
    constant : ndarray of shape (p,)
        Whether each column is constant in training.
    robust : ndarray of shape (p,)
        Whether each column is scaled robustly.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        super().__init__(values)
        low, high, median = np.quantile(values, [0.01, 0.99, 0.5], axis=0)
        with np.errstate(over="ignore"):  # a spread beyond float64 is no outlier column
            spread = (high - low) / _CENTRAL_98_WIDTH
        self.robust = ~self.constant & (spread > 0.0) & (self.scale > OUTLIER_RATIO * spread)
        self.mean = np.where(self.robust, median, self.mean)
        self.scale = np.where(self.robust, spread, self.scale)
        # Only a column whose central 98 % is one value can lose distinct values here.
        self._warn_about_collapsed_columns(values, np.flatnonzero(~self.constant & (spread == 0)))

    def transform(self, values: np.ndarray) -> torch.Tensor:
        """Standardised float32 tensor of ``values``: constant columns 0, far values compressed.

        Values of other columns beyond float32's range become infinite, as
        for :meth:`Standardizer.transform`.
        """
        standard = (np.asarray(values, dtype=np.float64) - self.mean) / self.scale
        standard[:, self.constant] = 0.0
        if np.any(self.robust):
            block = standard[:, self.robust]
            far = np.abs(block) > LINEAR_RANGE
            with np.errstate(divide="ignore"):
                block[far] = np.sign(block[far]) * LINEAR_RANGE * (
                    1.0 + np.log(np.abs(block[far]) / LINEAR_RANGE))
            standard[:, self.robust] = block
        with np.errstate(over="ignore"):
            return torch.from_numpy(np.ascontiguousarray(standard, dtype=np.float32))

    def _warn_about_collapsed_columns(self, values: np.ndarray, suspects: np.ndarray) -> None:
        """Warn, naming the column, if distinct training values become equal in float32."""
        if len(suspects) == 0:
            return
        standard = self.transform(values).numpy()
        for column in suspects:
            before = len(np.unique(values[:, column]))
            after = len(np.unique(standard[:, column]))
            if after < before:
                warnings.warn(
                    f"Column {column} of X has {before} distinct values in training but only "
                    f"{after} once scaled to float32: a few values lie so far from the rest "
                    "that the network cannot tell the others apart. "
                    "Transform the column (e.g. clip it, or take a logarithm) before fitting.",
                    UserWarning,
                    stacklevel=2,
                )


class ImageStandardizer:
    """Per-channel standardisation of images ``(n, C, H, W)``.

    ``uint8`` images are first divided by 255, so that the learned statistics
    are on the usual ``[0, 1]`` intensity scale; other dtypes are used as they
    are. Then every pixel of channel c becomes ``(value - mean[c]) / scale[c]``,
    with the mean and standard deviation of that channel over all training
    images and pixels. A constant channel keeps a scale of 1.

    The statistics are streamed: blocks of images are read one at a time, so a
    memmap is read once and never held in memory as a whole. ``uint8`` blocks
    add up counts of the 256 values (exact, and cheap); other dtypes merge
    per-block means and sums of squared deviations (Chan, Golub & LeVeque's
    pairwise update).

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
        Training images, any real dtype; float values must lie within the
        float32 range (as :func:`skebm._inputs.validate_inputs` ensures).

    Attributes
    ----------
    value_scale : float
        Divisor applied before standardising: 255 for ``uint8``, else 1.
    mean, scale : ndarray of shape (C,)
        Per-channel statistics of ``images / value_scale``.
    """

    def __init__(self, images: np.ndarray) -> None:
        self.value_scale = 255.0 if images.dtype == np.uint8 else 1.0
        if images.dtype == np.uint8:
            mean, scale, peak = _uint8_statistics(images)
        else:
            mean, scale, peak = _float_statistics(images)
        tiny = np.finfo(np.float64).eps * peak * 10.0  # rounding noise of a constant channel
        self.mean = mean
        self.constant = ~(scale > tiny)
        self.scale = np.where(self.constant, 1.0, scale)

    def transform(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Standardised float32 images, ``(n, C, H, W)``, on the device of ``images``.

        Parameters
        ----------
        images : ndarray or Tensor of shape (n, C, H, W)
            Images in their stored dtype; a tensor is converted where it lives
            (the target device, for batches drawn by training and prediction).
        """
        values = torch.as_tensor(images).to(torch.float32)
        if self.value_scale != 1.0:
            values = values / self.value_scale
        mean = torch.as_tensor(self.mean, dtype=torch.float32, device=values.device)
        scale = torch.as_tensor(self.scale, dtype=torch.float32, device=values.device)
        return (values - mean[:, None, None]) / scale[:, None, None]


def image_blocks(images: np.ndarray):
    """Consecutive blocks of ``images`` along axis 0, about 4 million values each."""
    values_per_image = max(1, int(np.prod(images.shape[1:])))
    size = max(1, _VALUES_PER_BLOCK // values_per_image)
    for start in range(0, images.shape[0], size):
        yield images[start : start + size]


def _float_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel mean, standard deviation and largest magnitude, streamed over blocks."""
    channels = images.shape[1]
    count, mean, squares = 0, np.zeros(channels), np.zeros(channels)
    peak = np.zeros(channels)
    for block in image_blocks(images):
        values = block.astype(np.float64)
        block_count = values.size // channels
        block_mean = values.mean(axis=(0, 2, 3))
        peak = np.maximum.reduce([peak, values.max(axis=(0, 2, 3)),
                                  -values.min(axis=(0, 2, 3))])
        values -= block_mean[:, None, None]
        block_squares = np.einsum("nchw,nchw->c", values, values)
        total = count + block_count
        delta = block_mean - mean
        mean = mean + delta * (block_count / total)
        squares = squares + block_squares + delta**2 * (count * block_count / total)
        count = total
    return mean, np.sqrt(squares / count), peak


def _uint8_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_float_statistics` for ``images / 255``, exactly, from value counts."""
    channels = images.shape[1]
    counts = np.zeros((channels, 256), dtype=np.int64)
    for block in image_blocks(images):
        for channel in range(channels):
            counts[channel] += np.bincount(block[:, channel].ravel(), minlength=256)
    levels = np.arange(256) / 255.0
    total = counts.sum(axis=1)
    mean = counts @ levels / total
    variance = (counts * np.square(levels - mean[:, None])).sum(axis=1) / total
    peak = np.array([levels[np.flatnonzero(row)[-1]] for row in counts])
    return mean, np.sqrt(variance), peak


def quantile_bin_edges(columns: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Edges of ``n_bins`` equal-count bins of each column, for the input encoding.

    Repeated quantiles, and bins narrower than :data:`MIN_BIN_WIDTH`, are
    merged, so a column with few distinct values gets
    fewer bins (a binary column one or two, as the quantiles interpolate
    linearly between its values); a constant column gets one bin of unit
    width centred on its value.

    Parameters
    ----------
    columns : ndarray of shape (n, p)
        The (standardised) training columns.
    n_bins : int
        Most bins per column, at least 1.

    Returns
    -------
    list of ndarray
        ``p`` increasing float32 arrays of 2 to ``n_bins + 1`` edges.
    """
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    quantiles = np.quantile(np.asarray(columns, dtype=np.float64), levels, axis=0)
    edges = []
    for column in quantiles.T:
        # float32 is what the network sees: merge edges that round together there.
        column = np.unique(column.astype(np.float32))
        if len(column) < 2:
            edges.append(np.array([column[0] - 0.5, column[0] + 0.5], dtype=np.float32))
            continue
        # A bin narrower than MIN_BIN_WIDTH would scale a value outside it by
        # more than 1 / MIN_BIN_WIDTH: merge it into its left neighbour.
        kept = [column[0]]
        for edge in column[1:-1]:
            if edge - kept[-1] >= MIN_BIN_WIDTH and column[-1] - edge >= MIN_BIN_WIDTH:
                kept.append(edge)
        kept.append(column[-1])
        edges.append(np.array(kept, dtype=np.float32))
    return edges
