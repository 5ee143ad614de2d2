"""How many input rows prediction pushes through a network at once.

One policy for every estimator: a chunk holds about 16 MB of float32 model
inputs and at most 4096 rows. The feature extractor's activations grow with
the chunk's input size, so bounding the inputs bounds them too: a table
chunk is 4096 rows, a chunk of 224 x 224 RGB images about 27 images.
"""

from __future__ import annotations

import math

__all__ = ["BYTES_PER_CHUNK", "MAX_ROWS_PER_CHUNK", "rows_per_chunk"]

BYTES_PER_CHUNK = 2**24
"""Target size of one chunk of float32 model inputs, in bytes."""

MAX_ROWS_PER_CHUNK = 4096
"""Upper bound on rows per chunk, whatever their size."""


def rows_per_chunk(row_shape: tuple[int, ...]) -> int:
    """Rows per prediction chunk for inputs whose rows have ``row_shape``.

    Parameters
    ----------
    row_shape : tuple of int
        Shape of one preprocessed input: ``(n_features,)`` or ``(C, H, W)``.

    Returns
    -------
    int
        At least 1 and at most :data:`MAX_ROWS_PER_CHUNK`.

    Examples
    --------
    >>> rows_per_chunk((10,)), rows_per_chunk((3, 224, 224))
    (4096, 27)
    """
    values_per_row = max(1, math.prod(row_shape))
    return int(min(MAX_ROWS_PER_CHUNK, max(1, BYTES_PER_CHUNK // (4 * values_per_row))))
