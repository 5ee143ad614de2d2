"""Point predictions over blocks of rows, so that memory does not grow with the rows.

A distribution keeps per-row state for every row it holds (the energy
head's input projection, the proposal mixture, the cached summaries: about
300 bytes a row for the default networks). ``predict`` needs none of it
after a row's point is computed, so it builds one distribution per block of
:data:`PREDICT_BLOCK_ROWS` rows and drops it before the next: what
prediction holds beyond its output is bounded by the block, whatever the
number of rows (a memmap of 10^5 images is read block by block). Rows are
computed independently of each other, so the points do not depend on the
blocks (up to float32 rounding of the network).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["PREDICT_BLOCK_ROWS", "predict_points"]

PREDICT_BLOCK_ROWS = 8192
"""Rows of one block of ``predict``."""


def predict_points(distribution: Callable, inputs, kind: str,
                   block_rows: int | None = None) -> np.ndarray:
    """The mean, median or mode of every row, one block of rows at a time.

    Parameters
    ----------
    distribution : callable
        ``distribution(inputs) -> ConditionalDistribution`` for a block of
        model inputs (the estimator's ``_distribution``).
    inputs : InputBatches or Tensor
        The model inputs of all rows; sliced by row.
    kind : {"mean", "median", "mode"}
        Which point.
    block_rows : int, optional
        Rows per block; :data:`PREDICT_BLOCK_ROWS` by default (read at call
        time, so tests can shrink it).

    Returns
    -------
    ndarray of shape (n,) or (n, d)
    """
    size = PREDICT_BLOCK_ROWS if block_rows is None else int(block_rows)
    n_rows = len(inputs)
    parts = []
    for start in range(0, max(n_rows, 1), size):
        dist = distribution(inputs[start : start + size])
        parts.append(getattr(dist, kind)())
        del dist  # its per-row state goes before the next block's is built
    return np.concatenate(parts, axis=0)
