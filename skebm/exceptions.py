"""Exceptions and warnings raised by skebm."""

from sklearn.exceptions import NotFittedError

__all__ = ["DeviceWarning", "NotFittedError", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss or non-finite parameters and could not recover.

    The usual remedies are a smaller ``learning_rate``, a larger ``batch_size``
    or rescaled inputs.
    """


class DeviceWarning(UserWarning):
    """A requested device is unavailable and another one is used instead."""
