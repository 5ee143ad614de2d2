"""How many torch intra-op threads a fit or a prediction uses.

Small networks gain little from intra-op threads: each operation is too
short to split, and when the cores are busy with other work a thread that
waits for a core stalls every operation. ``n_threads="auto"`` therefore uses
one thread unless a training step's work is large, measured as

    batch_size x values per input row x hidden width

(a 20-column table at batch 64 and width 32 is about 4e4; 64 x 64 RGB images
at batch 64 and width 32 about 2.5e7), and then only as many as the machine's
load average leaves idle cores. Never more threads than the cores the process
may run on (``os.sched_getaffinity``) or than torch's own setting
(``torch.set_num_threads`` or ``OMP_NUM_THREADS``, which a user sets to limit
it). The count applies inside :func:`torch_threads` only: the calling
thread's setting is restored afterwards.

Measured on a shared 2-core machine at a load average of 4.6-6.9 (one epoch of
a default ``EnergyRegressor``; wall seconds with 1 / 2 threads): a 2000 x 20
table 2.8 / 5.6, a 20000 x 20 table 6.2 / 161, 1000 grey 28 x 28 images
3.7 / 41, 500 RGB 64 x 64 images 9.0 / 30. Two threads only pay where cores
are idle.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["MULTI_THREAD_WORK", "PER_THREAD_SETTING", "auto_threads", "available_cores",
           "fit_threads", "idle_cores", "resolve_threads", "threads_from", "torch_threads",
           "with_fitted_threads"]

MULTI_THREAD_WORK = 1e7
"""Work per training step (batch x values per row x width) above which "auto" uses every core."""

PER_THREAD_SETTING = "parallel backend: OpenMP" in torch.__config__.parallel_info()
"""Whether ``torch.set_num_threads`` sets the calling thread's count only.

With torch's OpenMP backend (the default builds) it does: each Python thread
keeps its own count, and a thread's first parallel operation starts from
the value last set in any thread. Other backends share one process-wide count.
"""

_LOCK = threading.Lock()
_ACTIVE = 0  # contexts open in this process (process-wide backends only)
_SAVED = 0  # the process's thread count before the first of them

def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def idle_cores() -> float:
    """Cores of the machine that the last minute's load left idle (0 where unknown)."""
    try:
        return (os.cpu_count() or 1) - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        return 0.0


def auto_threads(batch_size: int, row_shape: tuple[int, ...], hidden_size: int,
                 limit: int | None = None, idle: float | None = None) -> int:
    """Intra-op threads for a network of ``hidden_size`` on batches of ``row_shape`` rows.

    Parameters
    ----------
    batch_size : int
        Rows per training step.
    row_shape : tuple of int
        Shape of one input row: ``(n_features,)`` or an image shape.
    hidden_size : int
        Width of the network's hidden layers.
    limit : int, optional
        Most threads to use; by default the smaller of :func:`available_cores`
        and ``torch.get_num_threads()``.
    idle : float, optional
        Idle cores; by default :func:`idle_cores`.

    Returns
    -------
    int
        1 when the work per step is at most :data:`MULTI_THREAD_WORK`, else
        the idle cores (rounded down, at least 1), at most ``limit``.

    Examples
    --------
    >>> auto_threads(64, (20,), 32, limit=2, idle=2.0)
    1
    >>> auto_threads(64, (64, 64, 3), 32, limit=2, idle=2.0)
    2
    >>> auto_threads(64, (64, 64, 3), 32, limit=2, idle=0.5)  # a busy machine
    1
    """
    work = float(batch_size) * max(1, math.prod(row_shape)) * float(hidden_size)
    if work <= MULTI_THREAD_WORK:
        return 1
    if limit is None:
        limit = min(available_cores(), torch.get_num_threads())
    idle = idle_cores() if idle is None else idle
    return int(min(max(1, int(limit)), max(1.0, math.floor(idle))))


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` torch intra-op threads, then restore the setting.

    Contexts may nest, and Python threads may open them at the same time.
    Where torch's count belongs to each thread (:data:`PER_THREAD_SETTING`),
    a context restores its own thread's count when it closes; where it is
    process-wide, the count before the first open context is restored when
    the last one closes. Either way the setting is restored also when the
    block raises. ``None`` changes nothing.
    """
    if n_threads is None:
        yield
        return
    if PER_THREAD_SETTING:
        saved = torch.get_num_threads()
        _set_threads(int(n_threads))
        try:
            yield
        finally:
            _set_threads(saved)
        return
    global _ACTIVE, _SAVED
    with _LOCK:
        if _ACTIVE == 0:
            _SAVED = torch.get_num_threads()
        _ACTIVE += 1
        _set_threads(int(n_threads))
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                _set_threads(_SAVED)


def _set_threads(n_threads: int) -> None:
    """``torch.set_num_threads``, skipped when it would change nothing (it is not free)."""
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)

def resolve_threads(estimator, X) -> int:
    """The thread count a fit of ``estimator`` on ``X`` uses (its ``n_threads``, resolved)."""
    limit = min(available_cores(), torch.get_num_threads())
    setting = getattr(estimator, "n_threads", "auto")
    if setting != "auto":
        return int(setting)
    shape = getattr(X, "shape", None)  # a DataFrame, an array or a memmap: no copy
    if shape is None:
        try:
            shape = np.shape(X)
        except (ValueError, TypeError):  # ragged or unusual: fit's validation names it
            shape = ()
    hidden = estimator.hidden_size
    if hidden == "auto":
        from skebm._base import auto_hidden_size

        hidden = auto_hidden_size(shape[0] if shape else 0)
    return auto_threads(estimator.batch_size, tuple(shape[1:]), int(hidden), limit)


def fit_threads(fit):
    """Decorate ``fit``: run it under :func:`torch_threads` and record ``n_threads_``."""

    @functools.wraps(fit)
    def wrapper(self, X, y=None, *args, **kwargs):
        n_threads = resolve_threads(self, X)
        with torch_threads(n_threads):
            fit(self, X, y, *args, **kwargs)
        self.n_threads_ = n_threads
        return self

    return wrapper


def threads_from(attribute: str):
    """Decorator factory: run a method under :func:`torch_threads` of ``self.<attribute>``.

    An object without the attribute (or with ``None``) runs with torch's setting.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with torch_threads(getattr(self, attribute, None)):
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


with_fitted_threads = threads_from("n_threads_")
"""Decorate a prediction method: run it with the fit's ``n_threads_``, if recorded."""
