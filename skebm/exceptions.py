"""Exceptions and warnings raised by skebm."""

from sklearn.exceptions import NotFittedError

__all__ = ["DeviceWarning", "NonFiniteOutputError", "NotFittedError", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss or non-finite parameters and could not recover.

    The usual remedies are a smaller ``learning_rate``, a larger ``batch_size``
    or rescaled inputs.
    """


class DeviceWarning(UserWarning):
    """A requested device is unavailable and another one is used instead."""


class NonFiniteOutputError(ValueError):
    """The fitted network returned NaN or infinity at prediction time.

    Raised instead of returning non-finite or meaningless numbers. The usual
    causes are inputs far outside the range seen in ``fit`` (which overflow the
    network) or a user feature extractor that misbehaves in eval mode; the
    message names the rows and the part of the network concerned.
    """
