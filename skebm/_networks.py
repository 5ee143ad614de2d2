"""How an estimator's network is built: its feature extractor, input encoding and sizes.

The policy the estimators share: ``feature_extractor="auto"`` (an MLP four
times as wide as the heads for tables, the small CNN for images), the
piecewise-linear input encoding of ``input_bins="auto"``, the
``hidden_size="auto"`` width, mixed precision, seeded construction, and the
parameters that fix the architecture (which a warm start cannot change).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from skebm.nn import EncodedExtractor, PiecewiseLinearEncoding
from skebm.nn.extractors import AutocastExtractor, check_extractor, instantiate_extractor

__all__ = ["ARCHITECTURE_PARAMS", "AUTO_INPUT_BINS", "GLOBAL_SEED_LOCK", "architecture_params",
           "auto_hidden_size", "build_extractor", "call_extractor", "changed_architecture",
           "resolved_input_bins", "seeded"]

AUTO_INPUT_BINS = 8
"""Bins per column of ``input_bins="auto"`` (tables read by the built-in MLP)."""
AUTO_WIDTH_ROWS = 4000
"""Training rows beyond which ``hidden_size="auto"`` is 64 instead of 32."""
ARCHITECTURE_PARAMS = ("feature_extractor", "feature_extractor_kwargs", "input_bins",
                       "hidden_size", "n_components", "mixed_precision", "channel_axis")
"""The parameters that shape the network, which a warm start cannot change."""
# Seeded initialisation uses torch's global generator: one thread at a time, so that
# fits in threads (joblib's threading or dask backends) stay reproducible.
GLOBAL_SEED_LOCK = threading.Lock()


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global CPU generator inside the ``with`` block, one thread at a time.

    The generator's state outside the block is left as it was.
    """
    with GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def auto_hidden_size(n_rows: int) -> int:
    """The width ``hidden_size="auto"`` gives a fit on ``n_rows`` rows.

    32 up to 4000 rows, 64 beyond: about ``32 * sqrt(n_rows / 2000)`` as a
    power of two, so that the number of weights (quadratic in the width)
    grows with the rows, capped at 64 (width 128 measured no better than 64
    on 20 000 synthetic rows and fitted 2.3 times slower; see
    ``benchmarks/archive/width.py``).

    Parameters
    ----------
    n_rows : int
        Training rows passed to ``fit``.

    Returns
    -------
    int
        The width of the heads' hidden layers.
    """
    return 64 if n_rows > AUTO_WIDTH_ROWS else 32


def resolved_input_bins(input_bins, feature_extractor, input_ndim: int) -> int:
    """Bins per column of the input encoding (0: none) for inputs of ``input_ndim`` axes.

    ``"auto"`` encodes tables read by the built-in MLP with
    :data:`AUTO_INPUT_BINS` bins per column and nothing else.

    Raises
    ------
    ValueError
        If bins are asked for image inputs.
    """
    table = input_ndim == 2
    if input_bins == "auto":
        built_in_mlp = isinstance(feature_extractor, str) and feature_extractor in ("auto", "mlp")
        return AUTO_INPUT_BINS if table and built_in_mlp else 0
    if input_bins and not table:
        raise ValueError(
            f"input_bins={input_bins} encodes the columns of a table, but X holds "
            "images; use input_bins=0 or 'auto' for images."
        )
    return int(input_bins)


def call_extractor(feature_extractor, feature_extractor_kwargs, factory: Callable, *args,
                   **kwargs) -> torch.nn.Module:
    """Call an extractor factory, naming the parameters when the keywords do not fit."""
    try:
        return factory(*args, **kwargs)
    except TypeError as error:
        raise TypeError(
            f"feature_extractor={feature_extractor!r} does not accept "
            f"feature_extractor_kwargs={feature_extractor_kwargs!r}: {error}"
        ) from error


def build_extractor(feature_extractor, feature_extractor_kwargs: dict | None,
                    input_shape: tuple[int, ...], hidden_size: int,
                    input_bin_edges: Sequence[np.ndarray] | None = None,
                    mixed_precision: bool = False) -> torch.nn.Module:
    """A new feature extractor for inputs of ``input_shape`` (one row).

    ``"auto"`` is an MLP for tables, the small CNN for images. The built-in
    MLP's hidden layers are ``4 * hidden_size`` wide: it runs once per row,
    the heads once per (row, sample), so width is cheap here. With
    ``input_bin_edges`` (one array per column), the extractor reads the
    columns followed by their piecewise-linear encoding; with
    ``mixed_precision``, it runs under autocast.
    """
    kwargs = dict(feature_extractor_kwargs or {})
    extractor = feature_extractor
    if isinstance(extractor, str) and extractor == "auto":
        extractor = "mlp" if len(input_shape) == 1 else "cnn"
    if isinstance(extractor, str) and extractor == "mlp":
        kwargs.setdefault("hidden_sizes", (4 * hidden_size, 4 * hidden_size))
    encoding = None
    if input_bin_edges is not None:
        encoding = PiecewiseLinearEncoding([torch.from_numpy(column)
                                            for column in input_bin_edges])
        input_shape = (input_shape[0] + encoding.out_features,)
    module = call_extractor(feature_extractor, feature_extractor_kwargs, instantiate_extractor,
                            extractor, input_shape, **kwargs)
    module = check_extractor(module, input_shape)
    if encoding is not None:
        module = EncodedExtractor(encoding, module)
    return AutocastExtractor(module) if mixed_precision else module


def architecture_params(estimator) -> dict:
    """The values of :data:`ARCHITECTURE_PARAMS` that ``estimator`` has.

    A module instance is recorded by its type: holding on to it would keep
    its tensors (perhaps on a GPU) in the pickled estimator.
    """
    return {name: type(value) if isinstance(value, torch.nn.Module) else value
            for name in ARCHITECTURE_PARAMS if hasattr(estimator, name)
            for value in [getattr(estimator, name)]}


def changed_architecture(estimator, fitted_with: dict | None) -> list[str]:
    """The architecture parameters of ``estimator`` that differ from ``fitted_with``.

    ``fitted_with`` is ``None`` for models pickled before it was recorded:
    nothing is known to have changed.
    """
    if fitted_with is None:
        return []
    return [name for name, value in architecture_params(estimator).items()
            if not _same_value(value, fitted_with.get(name))]


def _same_value(first, second) -> bool:
    """Equality that tolerates values whose ``==`` is not a bool (tensors, arrays)."""
    if first is second:
        return True
    try:
        return bool(first == second)
    except (TypeError, ValueError, RuntimeError):
        return False
