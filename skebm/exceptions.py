"""Exceptions and warnings raised by skebm."""

from sklearn.exceptions import NotFittedError

__all__ = ["DeviceWarning", "ModelFormatError", "NonFiniteOutputError", "NotFittedError",
           "TrainingDivergedError", "UntrustedTypeError"]


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


class ModelFormatError(ValueError):
    """A file is not a skebm model that this version of skebm can load.

    Raised by :func:`skebm.load` for a file that is not a skebm model file,
    is truncated or corrupted, was written by a newer format version, or
    holds data that does not make a model (a tensor of the wrong shape, a
    field of the wrong type); the message says which. Nothing is loaded.
    """


class UntrustedTypeError(ModelFormatError):
    """A model file names code that loading would have to import, and it is not trusted.

    A user's feature extractor (an ``nn.Module`` class or factory), a
    subclass of a skebm estimator or a scikit-learn object that ``skops.io``
    does not trust by default is imported only when the caller of
    :func:`skebm.load` passes its name in ``trusted``.
    """
