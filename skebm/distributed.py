"""Control over fits inside a ``torch.distributed`` process group.

Inside an initialised default process group (a script launched with
``torchrun``), ``fit`` trains one model on all the ranks together (see the
scaling guide), so every rank must call ``fit`` with the same data. A fit that
runs on some ranks only (``if rank == 0: model.fit(X, y)``) would wait forever
for the others in its first collective, and independent fits on different
data per rank would stop with "the ranks' data differ". :func:`local_fit`
makes the fits of its block ignore the group.
"""

from __future__ import annotations

from skebm._distributed import local_fit

__all__ = ["local_fit"]
