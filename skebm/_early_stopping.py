"""Early stopping on a held-out score: which rows are held out, the patience rule and
the best parameters."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["MIN_AUTO_VALIDATION_ROWS", "EarlyStopping", "held_out_rows", "uses_early_stopping"]

MIN_AUTO_VALIDATION_ROWS = 20
"""Fewest held-out rows with which ``early_stopping="auto"`` holds rows out."""


def uses_early_stopping(early_stopping: bool | str, validation_fraction: float,
                        n_rows: int) -> bool:
    """Whether a fit on ``n_rows`` rows holds rows out.

    ``early_stopping="auto"`` does when ``validation_fraction`` of the rows
    makes at least :data:`MIN_AUTO_VALIDATION_ROWS` rows.
    """
    if isinstance(early_stopping, str):  # "auto"
        return round(validation_fraction * n_rows) >= MIN_AUTO_VALIDATION_ROWS
    return bool(early_stopping)


def held_out_rows(n_rows: int, validation_fraction: float,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``(held_out, kept)`` row indices; ``validation_fraction`` of the rows held out.

    Raises
    ------
    ValueError
        If no row would be held out, or none kept.
    """
    n_validation = int(round(validation_fraction * n_rows))
    if n_validation < 1 or n_validation >= n_rows:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no validation or no "
            f"training rows out of {n_rows}; use more data or early_stopping=False."
        )
    order = torch.randperm(n_rows, generator=generator)
    return order[:n_validation], order[n_validation:]


class EarlyStopping:
    """Stop after ``patience`` held-out checks without improvement; keep the best state.

    A check improves when its score (higher is better) is strictly above every
    earlier one. The state of the best check is kept so that :meth:`restore`
    can put it back at the end of training.

    Parameters
    ----------
    patience : int
        Checks in a row without improvement after which training stops.

    Attributes
    ----------
    best_score : float
        The highest score so far (``-inf`` before the first check).
    best_state : dict or None
        A copy of the module's ``state_dict`` at the best check.
    stale_checks : int
        Checks since the best one.

    Examples
    --------
    >>> from torch import nn
    >>> stopping, module = EarlyStopping(patience=2), nn.Linear(1, 1)
    >>> [stopping.update(score, module) for score in (0.5, 0.7, 0.6, 0.7)]
    [False, False, False, True]
    >>> stopping.best_score
    0.7
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_score = -math.inf
        self.best_state: dict | None = None
        self.stale_checks = 0

    def update(self, score: float, module: nn.Module) -> bool:
        """Record the check of ``module`` that scored ``score``; whether to stop now.

        On improvement, ``module``'s current ``state_dict`` is copied as the
        best state (so the module must hold the parameters that were scored).
        """
        if score > self.best_score:
            self.best_score, self.stale_checks = score, 0
            self.best_state = copy.deepcopy(module.state_dict())
            return False
        self.stale_checks += 1
        return self.stale_checks >= self.patience

    def restore(self, module: nn.Module) -> bool:
        """Load the best state into ``module``; ``False`` (nothing done) before any check."""
        if self.best_state is None:
            return False
        module.load_state_dict(self.best_state)
        return True
