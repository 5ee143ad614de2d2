"""Checks of the size arguments of the built-in extractors, made before torch sees them."""

from __future__ import annotations

from numbers import Integral

__all__ = ["layer_sizes", "positive_int"]


def positive_int(value, name: str) -> int:
    """``value`` as an int if it is a positive integer (not a bool); raise otherwise.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is below 1.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def layer_sizes(values, name: str, unit: str) -> tuple[int, ...]:
    """Widths of successive layers (or stages): a non-empty sequence of positive integers.

    Parameters
    ----------
    values : sequence of int
        The widths.
    name : str
        The argument's name, for error messages.
    unit : str
        What one width is the width of (``"layer"``, ``"stage"``), for error messages.

    Returns
    -------
    tuple of int

    Raises
    ------
    TypeError
        If ``values`` is not a sequence of integers.
    ValueError
        If it is empty or a width is below 1.
    """
    if isinstance(values, (Integral, str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of {unit} widths such as (64, 64), "
                        f"got {values!r}.")
    sizes = tuple(positive_int(size, f"{name}[{index}]") for index, size in enumerate(values))
    if not sizes:
        raise ValueError(f"{name} must name at least one {unit}.")
    return sizes
