"""Where an estimator's networks live: the ``device`` parameter, prediction and loading.

A fit runs on the device the ``device`` parameter names. A model fitted on
CUDA predicts and loads on the CPU, with a :class:`~skebm.exceptions.DeviceWarning`,
where CUDA is not available; pickles hold every network and tensor on the CPU,
so that they load anywhere.
"""

from __future__ import annotations

import copy
import warnings

import torch

from skebm.exceptions import DeviceWarning

__all__ = ["cpu_state", "inference_device", "loaded_device", "resolve_device"]


def resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a usable ``torch.device``.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``
        or ``"cuda:N"``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``device`` names no CPU or CUDA device, or CUDA is asked for but
        not available.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {device!r}.")
    return resolved


def inference_device(fitted_on: torch.device, stacklevel: int = 2) -> torch.device:
    """The device to predict on: ``fitted_on``, or the CPU, with a warning, if CUDA is gone.

    ``stacklevel`` counts from the caller of this function, as in :func:`warnings.warn`.
    """
    if fitted_on.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            "This model was fitted on CUDA, which is not available here; using the CPU.",
            DeviceWarning,
            stacklevel=stacklevel + 1,
        )
        return torch.device("cpu")
    return fitted_on


def loaded_device(saved, stacklevel: int = 2) -> torch.device:
    """Where an unpickled network goes: its fitting device if usable here, else the CPU.

    ``saved`` is the fitted ``device_`` (``None`` in models saved before it
    existed). A CUDA index beyond this machine's devices becomes the default
    CUDA device.
    """
    device = torch.device("cpu") if saved is None else torch.device(saved)
    if device.type != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        warnings.warn(
            "This model was fitted on CUDA, which is not available here; it was loaded on "
            "the CPU.",
            DeviceWarning,
            stacklevel=stacklevel + 1,
        )
        return torch.device("cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        return torch.device("cuda")
    return device


def cpu_state(state: dict) -> dict:
    """``state`` with every network and tensor copied to the CPU.

    One deepcopy of them all keeps modules shared between attributes shared.
    """
    on_device = {name: value for name, value in state.items()
                 if isinstance(value, (torch.nn.Module, torch.Tensor))}
    moved = {name: value.cpu() for name, value in copy.deepcopy(on_device).items()}
    return {**state, **moved}
