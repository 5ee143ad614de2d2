"""Per-row random draws of a share of a minibatch, as the whole minibatch draws them.

In data-parallel training each process computes the loss on its share of a
minibatch. Inside :func:`row_window`, :func:`skebm.nn.sample_mixture` draws
for the whole minibatch and keeps the rows of the share, so the shares'
noise samples together are exactly those of a single process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["drawn_rows", "row_window"]

_WINDOW: ContextVar[tuple[int, int, int] | None] = ContextVar("skebm_row_window", default=None)


@contextmanager
def row_window(start: int, stop: int, total: int) -> Iterator[None]:
    """Inside the block, batches are rows ``start:stop`` of a minibatch of ``total`` rows."""
    token = _WINDOW.set((start, stop, total))
    try:
        yield
    finally:
        _WINDOW.reset(token)


def drawn_rows(batch: int) -> tuple[int, slice | None]:
    """Rows to draw for a batch of ``batch`` rows, and the slice of them it keeps (or ``None``).

    Raises
    ------
    RuntimeError
        If a window is open for a share of another size.
    """
    window = _WINDOW.get()
    if window is None:
        return batch, None
    start, stop, total = window
    if stop - start != batch:
        raise RuntimeError(
            f"A batch of {batch} rows was drawn for inside a window of rows {start}:{stop}."
        )
    return total, slice(start, stop)
