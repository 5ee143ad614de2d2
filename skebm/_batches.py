"""Model inputs handed to a network one batch at a time.

The user's array stays as it is -- in its own dtype, and in its file when it
is a :class:`numpy.memmap` -- until a batch is drawn. Only then are the batch's
rows read, copied to the target device and converted there (images: to
float32, divided by 255 for ``uint8``, standardised per channel). Memory on
top of the user's array is thus bounded by the batch size, not by the number
of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from skebm._chunking import rows_per_chunk

__all__ = ["InputBatches", "as_batches", "to_device"]

Convert = Callable[[torch.Tensor], torch.Tensor]


class InputBatches:
    """The inputs of ``n`` rows, converted to model inputs batch by batch.

    Parameters
    ----------
    data : ndarray of shape (n_total, ...)
        Stored rows, any dtype; a view of the user's array (or memmap) is
        never read as a whole.
    convert : callable
        Maps a batch of stored rows, as a tensor on the target device, to
        float32 model inputs of the same shape.
    rows : ndarray of int, optional
        Which rows of ``data`` these inputs are, in order; all by default.
        Subsets (``inputs[index]``) only select rows, they copy no data.
    """

    def __init__(self, data: np.ndarray, convert: Convert, rows: np.ndarray | None = None):
        self.data = data
        self.convert = convert
        self.rows = rows

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n, *row_shape)``, as for a tensor of the model inputs."""
        n_rows = self.data.shape[0] if self.rows is None else len(self.rows)
        return (n_rows, *self.data.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> InputBatches:
        """The subset of rows ``index`` (integer array or tensor, or a slice)."""
        positions = np.arange(len(self))[_as_index(index)]
        rows = positions if self.rows is None else self.rows[positions]
        return InputBatches(self.data, self.convert, rows)

    def take(self, index, device: torch.device) -> torch.Tensor:
        """Model inputs of rows ``index`` on ``device``, ``(len(index), *row_shape)``.

        The rows are read in increasing order (sequential reads of a memmap),
        then put back in the requested order before leaving the CPU.
        """
        positions = np.asarray(_as_index(index), dtype=np.int64)
        rows = positions if self.rows is None else self.rows[positions]
        order = np.argsort(rows, kind="stable")
        block = np.asarray(self.data[rows[order]])  # a fresh array, never a view
        if not block.dtype.isnative:  # torch reads native byte order only
            block = block.astype(block.dtype.newbyteorder("="))
        if np.any(order[1:] < order[:-1]):
            block = block[np.argsort(order, kind="stable")]
        stored = torch.from_numpy(np.ascontiguousarray(block))
        return self.convert(to_device(stored, device))

    def chunks(self, device: torch.device, size: int | None = None) -> Iterator[torch.Tensor]:
        """Model inputs of all rows in order, in chunks of the shared prediction policy.

        Parameters
        ----------
        device : torch.device
            Where the chunks are converted and returned.
        size : int, optional
            Rows per chunk; by default :func:`skebm._chunking.rows_per_chunk`.

        Yields
        ------
        Tensor
            The next chunk, ``(rows, *row_shape)``; a single empty chunk when
            there are no rows.
        """
        size = size or rows_per_chunk(self.shape[1:])
        # At least one (possibly empty) chunk, so that zero rows give empty outputs.
        for start in range(0, max(len(self), 1), size):
            yield self.take(np.arange(start, min(start + size, len(self))), device)


def as_batches(inputs: InputBatches | torch.Tensor) -> InputBatches:
    """``inputs`` as :class:`InputBatches`; a tensor is taken as ready model inputs."""
    if isinstance(inputs, InputBatches):
        return inputs
    return InputBatches(inputs.detach().cpu().numpy(), _unchanged)


def _unchanged(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; via page-locked memory (asynchronous copy) for CUDA."""
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def _as_index(index):
    """A NumPy-usable index from a slice, a NumPy array or a tensor of positions."""
    if isinstance(index, torch.Tensor):
        return index.cpu().numpy()
    return index
