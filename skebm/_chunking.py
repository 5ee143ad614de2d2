"""How many rows prediction pushes through a network at once.

One policy for every estimator. Inputs: a chunk holds about 16 MB of float32
model inputs and at most 4096 rows. The feature extractor's activations grow with
the chunk's input size, so bounding the inputs bounds them too: a table
chunk is 4096 rows, a chunk of 224 x 224 RGB images about 27 images.
"""

from __future__ import annotations

import math

__all__ = [
    "BYTES_PER_CHUNK",
    "MAX_ROWS_PER_CHUNK",
    "PAIRS_PER_CHUNK",
    "VALUES_PER_CHUNK",
    "rows_per_chunk",
    "rows_per_point_chunk",
]

BYTES_PER_CHUNK = 2**24
"""Target size of one chunk of float32 model inputs, in bytes."""

MAX_ROWS_PER_CHUNK = 4096
"""Upper bound on rows per chunk, whatever their size."""

PAIRS_PER_CHUNK = 2**16
"""Upper bound on (row, target) pairs pushed through the energy head at once.

Small enough that a chunk's activations stay in the CPU caches (measured 2x
faster than 2**18 at hidden size 32), large enough to amortise per-call costs.
"""

VALUES_PER_CHUNK = 2**20
"""Upper bound on (row, point) values a distribution holds in NumPy per chunk of rows."""


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


def rows_per_point_chunk(points_per_row: int, budget: int | None = None) -> int:
    """Rows per chunk so that rows x ``points_per_row`` stays within ``budget`` pairs.

    Parameters
    ----------
    points_per_row : int
        Targets evaluated per row (grid nodes, proposal draws, ascent steps).
    budget : int, optional
        Pairs per chunk; :data:`PAIRS_PER_CHUNK` by default (read at call
        time, so tests can shrink it).

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> rows_per_point_chunk(256), rows_per_point_chunk(10, budget=25)
    (256, 2)
    """
    budget = PAIRS_PER_CHUNK if budget is None else budget
    return max(1, budget // max(int(points_per_row), 1))
