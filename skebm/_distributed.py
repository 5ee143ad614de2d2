"""Training one model on several processes with ``torch.distributed`` (data parallel).

When ``fit`` runs in an initialised process group (a script launched with
``torchrun``) outside :func:`local_fit`, every rank passes the same ``X``,
``y`` and ``sample_weight``; the preprocessing (input scaling, bin edges,
target scale), the held-out split and the order of the rows are then the same
on every rank without any communication. Each rank computes the loss on its
contiguous share of every minibatch; the gradients, weighted by the shares,
are summed over the ranks, so every rank takes the step a single process would
take on the whole minibatch. The noise samples of a share are the rows of the
whole minibatch's draws (:func:`skebm.nn.mixture.row_window`), so the step is
the single-process one up to the order of floating-point sums. Rank 0's
held-out score decides early stopping everywhere, and rank 0's parameters are
broadcast at the start and at the end, so every rank holds the same model.

Knows nothing about scikit-learn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["ProcessGroup", "data_fingerprint", "local_fit"]

T = TypeVar("T")

_LOCAL = ContextVar("skebm_local_fit", default=False)


@contextmanager
def local_fit() -> Iterator[None]:
    """Fit in this process alone, also inside a ``torch.distributed`` process group.

    Inside the block, ``fit`` of every skebm estimator ignores the default
    process group: it runs no collective, trains on this process's data
    only and records ``world_size_ = 1``, as outside a group. Use it for a
    fit on some ranks only (``if rank == 0``), which would otherwise wait
    forever for the other ranks, or for independent fits on different data
    per rank. It applies to fits in the calling thread (and asyncio task);
    contexts may nest.

    Yields
    ------
    None
        The block runs with distributed fits switched off.

    Examples
    --------
    >>> from skebm import EnergyRegressor
    >>> from skebm.datasets import make_gustafsson2020
    >>> from skebm.distributed import local_fit
    >>> X, y = make_gustafsson2020(n_samples=100, random_state=0)
    >>> with local_fit():
    ...     model = EnergyRegressor(max_epochs=1, random_state=0).fit(X, y)
    >>> model.world_size_
    1
    """
    token = _LOCAL.set(True)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def data_fingerprint(*arrays: np.ndarray | None) -> str:
    """A short digest of the shapes and bytes of ``arrays`` (``None`` counts as absent)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(repr((array.shape, array.dtype.str)).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in the default ``torch.distributed`` process group.

    Parameters
    ----------
    rank : int
        This process's rank.
    world_size : int
        Number of processes.
    device : torch.device
        Where the tensors of the collectives live: CUDA for NCCL, the CPU
        for gloo.
    """

    rank: int
    world_size: int
    device: torch.device

    @classmethod
    def current(cls, device: torch.device) -> ProcessGroup | None:
        """The default group for a fit on ``device``; ``None`` outside one or in :func:`local_fit`.

        Raises
        ------
        ValueError
            If the group's backend cannot communicate tensors on ``device``
            (NCCL with a CPU fit).
        """
        if _LOCAL.get() or not (dist.is_available() and dist.is_initialized()):
            return None
        backend = str(dist.get_backend()).lower()
        if device.type == "cpu" and backend == "nccl":
            raise ValueError(
                "fit runs on the CPU in a process group with the NCCL backend, which only "
                "communicates CUDA tensors; initialise the group with backend='gloo' for CPU "
                "fits (NCCL for CUDA fits)."
            )
        return cls(dist.get_rank(), dist.get_world_size(), device)

    def local_device(self, device: torch.device) -> torch.device:
        """``device``, with CUDA without an index meaning this process's current CUDA device.

        Each rank uses the device that ``torch.cuda.set_device`` chose for it.
        """
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        return device

    def share(self, n_rows: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's contiguous share of ``n_rows`` rows."""
        world = self.world_size
        return (n_rows * self.rank) // world, (n_rows * (self.rank + 1)) // world

    def agree(self, prepare: Callable[[], T], fingerprint: Callable[[T], str]) -> T:
        """Run ``prepare`` on every rank; fail on every rank if it failed on one.

        Every rank sends its error (or the ``fingerprint`` of its result) to
        every other in one collective, so a bad input on one rank stops all
        of them with a clear error instead of leaving the others waiting.

        Raises
        ------
        ValueError
            If ``prepare`` failed on another rank, or the fingerprints differ
            (the ranks were passed different data).
        Exception
            This rank's own error from ``prepare``, on the rank where it happened.
        """
        result, error, report = None, None, None
        try:
            result = prepare()
            report = ("ok", fingerprint(result))
        except Exception as caught:  # shared with the other ranks, then raised here
            error = caught
            report = ("error", f"{type(caught).__name__}: {caught}")
        reports: list = [None] * self.world_size
        dist.all_gather_object(reports, report)
        if error is not None:
            raise error
        failed = [(rank, text) for rank, (kind, text) in enumerate(reports) if kind == "error"]
        if failed:
            rank, text = failed[0]
            raise ValueError(f"fit failed on rank {rank} of {self.world_size}: {text}")
        if len({text for _, text in reports}) > 1:
            raise ValueError(
                "Distributed fit: every rank must pass the same X, y and sample_weight (each "
                "rank trains on its share of every minibatch of them), but the ranks' data "
                "differ."
            )
        return result

    def broadcast_object(self, value: T) -> T:
        """Rank 0's ``value`` on every rank."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    @torch.no_grad()
    def broadcast_module(self, module: nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers."""
        for tensor in module.state_dict().values():
            buffer = tensor.to(self.device)
            dist.broadcast(buffer, src=0)
            tensor.copy_(buffer)

    @torch.no_grad()
    def sum_step(self, loss: torch.Tensor, parts: dict[str, torch.Tensor],
                 parameters: list[nn.Parameter], weight: float) -> tuple[float, dict]:
        """Sum ``weight`` times the loss, its parts and the gradients over the ranks.

        ``weight`` is this rank's share of the minibatch's rows. Afterwards each
        parameter holds the summed gradient, or none if no rank produced one.
        Returns the summed loss (non-finite on every rank if it is on one)
        and parts.
        """
        names = sorted(parts)
        scalars = [loss.detach(), *(parts[name].detach() for name in names)]
        header = torch.stack([s.to(self.device, torch.float64).reshape(()) for s in scalars])
        has_grad = torch.tensor([float(p.grad is not None) for p in parameters],
                                dtype=torch.float64, device=self.device)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        flat = torch.cat([g.reshape(-1).to(self.device, torch.float64) for g in grads])
        buffer = torch.cat([weight * header, has_grad, weight * flat])
        dist.all_reduce(buffer)
        header, has_grad, flat = buffer.split([len(scalars), len(parameters), len(flat)])
        offset = 0
        for parameter, present in zip(parameters, has_grad.tolist()):
            size = parameter.numel()
            summed = flat[offset:offset + size].view_as(parameter).to(parameter.dtype)
            parameter.grad = summed.to(parameter.device) if present > 0 else None
            offset += size
        values = header.tolist()
        return values[0], dict(zip(names, values[1:]))
