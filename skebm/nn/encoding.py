"""Piecewise-linear encoding of tabular input columns.

Gorishniy, Rubachev & Babenko, *On Embeddings for Numerical Features in
Tabular Deep Learning* (NeurIPS 2022): each column x is cut into bins
``[b_0, b_1), ..., [b_{T-1}, b_T]`` and replaced by ``T`` numbers, bin ``t``
giving ``0`` left of it, ``1`` right of it and the position
``(x - b_{t-1}) / (b_t - b_{t-1})`` inside it. The first bin continues
linearly to the left of ``b_0`` and the last to the right of ``b_T``, so
values outside the training range extrapolate linearly instead of being
clipped. An MLP reading these numbers fits a steep or kinked response of one
column with a single layer, which is where MLPs on raw columns trail tree
ensembles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["EncodedExtractor", "PiecewiseLinearEncoding"]

_OPEN = 1e30
"""Clamp bound that leaves an outer bin open: finite, so that parameter
averaging of the buffers (``a + w (b - a)``) never forms ``inf - inf``."""


class PiecewiseLinearEncoding(nn.Module):
    """Encode each column of a table by its position in its own bins.

    Parameters
    ----------
    bin_edges : sequence of 1-D tensors
        Increasing edges ``b_0 < ... < b_T`` of each column, ``T >= 1``
        (columns may have different numbers of bins).

    Attributes
    ----------
    out_features : int
        Number of encoded features, the total number of bins.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import PiecewiseLinearEncoding
    >>> encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0, 3.0])])
    >>> encoding(torch.tensor([[-1.0], [0.5], [2.0], [5.0]]))
    tensor([[-1.0000,  0.0000],
            [ 0.5000,  0.0000],
            [ 1.0000,  0.5000],
            [ 1.0000,  2.0000]])
    """

    def __init__(self, bin_edges: Sequence[torch.Tensor]) -> None:
        super().__init__()
        if len(bin_edges) == 0:
            raise ValueError("bin_edges must hold the edges of at least one column.")
        widths = [len(edges) - 1 for edges in bin_edges]
        n_columns, n_bins = len(bin_edges), max(widths)
        left = torch.zeros(n_columns, n_bins)
        width = torch.ones(n_columns, n_bins)
        low = torch.zeros(n_columns, n_bins)
        high = torch.ones(n_columns, n_bins)
        used = torch.zeros(n_columns, n_bins, dtype=torch.bool)
        for column, edges in enumerate(bin_edges):
            edges = torch.as_tensor(edges, dtype=torch.float32).flatten()
            count = len(edges) - 1
            if count < 1 or not bool(torch.all(edges[1:] > edges[:-1])):
                raise ValueError(f"bin_edges[{column}] must be at least two increasing "
                                 f"numbers, got {edges.tolist()}.")
            left[column, :count] = edges[:-1]
            width[column, :count] = edges[1:] - edges[:-1]
            used[column, :count] = True
            low[column, 0] = -_OPEN
            high[column, count - 1] = _OPEN
        self.register_buffer("left", left)
        self.register_buffer("width", width)
        self.register_buffer("low", low)
        self.register_buffer("high", high)
        self.register_buffer("used", used.flatten())
        self.out_features = int(used.sum())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Encode a batch.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, n_columns)``
            The columns the edges were given for.

        Returns
        -------
        Tensor of shape ``(batch, out_features)``
            Each column's bins in turn, first column first.
        """
        position = (inputs[:, :, None] - self.left) / self.width
        position = torch.maximum(torch.minimum(position, self.high), self.low)
        return position.flatten(1)[:, self.used]


class EncodedExtractor(nn.Module):
    """A feature extractor that reads each column beside its encoding.

    The wrapped extractor gets ``[x, encoding(x)]``: the encoding for steep
    or kinked responses, the columns themselves for smooth ones (measured on
    kin8nm, a smooth response of eight angles, the encoding alone costs
    likelihood).

    Parameters
    ----------
    encoding : PiecewiseLinearEncoding
        Encoding of the columns.
    extractor : nn.Module
        Feature extractor for ``(batch, n_columns + encoding.out_features)``
        inputs, with an ``out_features`` attribute.

    Attributes
    ----------
    out_features : int
        Size of the features, the wrapped extractor's.
    """

    def __init__(self, encoding: PiecewiseLinearEncoding, extractor: nn.Module) -> None:
        super().__init__()
        self.encoding = encoding
        self.extractor = extractor
        self.out_features = int(extractor.out_features)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Compute the features of a batch of table rows.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, n_columns)``
            The standardised columns.

        Returns
        -------
        Tensor of shape ``(batch, out_features)``
            The wrapped extractor's features of the rows and their encoding.
        """
        return self.extractor(torch.cat([inputs, self.encoding(inputs)], dim=1))
