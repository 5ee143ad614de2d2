"""Validation of the inputs ``X`` of every estimator: tables and image arrays.

Two kinds of ``X`` are accepted, told apart by the array's rank:

* a table, ``(n_samples, n_features)`` array-like or DataFrame, validated by
  scikit-learn's ``validate_data`` (so ``n_features_in_`` and
  ``feature_names_in_`` behave as for any scikit-learn estimator);
* a batch of images, a rank-3 or rank-4 array: ``(n, H, W)`` (one channel),
  ``(n, H, W, C)`` (channels last) or ``(n, C, H, W)`` (channels first), of
  any real dtype (``uint8`` or float, typically).

For rank-4 arrays, the estimator's ``channel_axis`` parameter names the
channel axis: ``1`` (channels first), ``-1`` or ``3`` (channels last), or
``None`` to detect it by this rule: the channel axis is whichever of axis 1
and the last axis has size 1, 3 or 4 (grey, RGB, RGBA); when both or neither
do, it is the smaller of the two, and the last axis on a tie. So
``(n, 32, 32, 3)`` and ``(n, 3, 32, 32)`` are both read as RGB and
``(n, 64, 64, 8)`` as eight channels last.

The layout found in ``fit`` is stored (``input_shape_``, ``channel_axis_``)
and reused, not re-detected, for later inputs, whose per-image shape must
match. Images are handed on channels first, ``(n, C, H, W)``, as a view in
their own dtype (a :class:`numpy.memmap` stays on disk): they are checked
block by block, and :func:`model_inputs` converts and scales them one batch at
a time on the target device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_consistent_length, validate_data

from skebm._batches import InputBatches, as_batches
from skebm._preprocessing import ImageStandardizer, Standardizer, TableStandardizer, image_blocks

__all__ = ["ImageLayout", "input_scaler", "model_inputs", "resolve_channel_axis",
           "validate_inputs"]

CHANNEL_SIZES = frozenset({1, 3, 4})
"""Sizes that mark an axis as the channel axis: grey, RGB, RGBA."""


@dataclass(frozen=True)
class ImageLayout:
    """How the images seen in ``fit`` were laid out.

    Attributes
    ----------
    shape : tuple of int
        Shape of one image as passed by the user: ``(H, W)``, ``(H, W, C)`` or
        ``(C, H, W)``.
    channel_axis : int or None
        Axis of the rank-4 batch holding the channels (1 or 3); ``None`` for
        ``(n, H, W)`` batches.
    dtype : numpy.dtype
        dtype of the training images.
    """

    shape: tuple[int, ...]
    channel_axis: int | None
    dtype: np.dtype

    def describe(self) -> str:
        """``"(H, W, C), channels last"`` and the like, for error messages."""
        kind = {None: "one channel", 1: "channels first", 3: "channels last"}
        return f"{self.shape}, {kind[self.channel_axis]}"

    def to_channels_first(self, images: np.ndarray) -> np.ndarray:
        """View of a validated batch as ``(n, C, H, W)``, without copying."""
        if self.channel_axis is None:
            return images[:, np.newaxis]
        if self.channel_axis == 3:
            return np.moveaxis(images, 3, 1)
        return images


def resolve_channel_axis(shape: tuple[int, ...], channel_axis: int | None) -> int | None:
    """The channel axis (1 or 3) of an image batch of ``shape``, or ``None`` if it has none.

    Parameters
    ----------
    shape : tuple of int
        Shape of the whole batch, ``(n, H, W)`` or rank 4.
    channel_axis : {None, 1, 3, -1}
        The user's choice; ``None`` applies the detection rule of this module.

    Examples
    --------
    >>> resolve_channel_axis((10, 32, 32, 3), None), resolve_channel_axis((10, 3, 32, 32), None)
    (3, 1)
    >>> resolve_channel_axis((10, 4, 4, 4), 1)
    1
    """
    if len(shape) == 3:
        if channel_axis is not None:
            raise ValueError(
                f"channel_axis={channel_axis!r} needs images of rank 4; X has shape {shape}, "
                "read as (n, H, W) with one channel. Use channel_axis=None, or add the "
                "channel axis (e.g. X[..., np.newaxis])."
            )
        return None
    if channel_axis is not None:
        return 1 if channel_axis == 1 else 3
    first, last = shape[1], shape[3]
    first_marked, last_marked = first in CHANNEL_SIZES, last in CHANNEL_SIZES
    if first_marked != last_marked:
        return 1 if first_marked else 3
    return 1 if first < last else 3


def validate_inputs(estimator, X, y=None, *, reset: bool):
    """Validate ``X`` (and ``y``) for ``estimator``; the one entry point for inputs.

    Parameters
    ----------
    estimator : BaseProbabilisticRegressor
        Its optional ``channel_axis`` parameter is read; the fitted layout is
        stored on it (``reset=True``) or checked against (``reset=False``).
    X : array-like, DataFrame or ndarray of rank 3 or 4
        A table or a batch of images.
    y : array-like, optional
        Targets, validated as for scikit-learn regressors when given.
    reset : bool
        ``True`` in a fresh ``fit``: record the layout (and require at least
        two rows). ``False`` afterwards: require the recorded layout.

    Returns
    -------
    inputs : ndarray
        A float64 table ``(n, p)`` or an image batch ``(n, C, H, W)`` in the
        images' own dtype (a view of the user's array, or memmap, where possible).
    y : ndarray
        Only when ``y`` was given.
    """
    min_samples = 2 if y is not None else 1
    rank = _rank(X)
    if rank is not None and rank > 4:
        raise ValueError(
            "X must be a table (n_samples, n_features) or a batch of images (n, H, W), "
            f"(n, H, W, C) or (n, C, H, W); got an array of rank {rank}."
        )
    if rank not in (3, 4):
        if not reset:
            _check_same_kind(estimator, None, rank)
        augmentation = getattr(estimator, "augmentation", None)
        if y is not None and augmentation is not None:
            raise ValueError(
                f"augmentation={augmentation!r} flips or crops images, but X is a table. Use "
                "augmentation=None for tabular data."
            )
        _reject_dates(X)
        params = dict(ensure_min_samples=min_samples, dtype=np.float64)
        if y is None:
            X = validate_data(estimator, X, reset=reset, **params)
        else:
            X, y = validate_data(estimator, X, y, reset=reset, multi_output=True,
                                 y_numeric=True, **params)
        if reset:
            estimator.input_shape_ = (X.shape[1],)
            estimator.channel_axis_ = None
            estimator._image_layout = None
        return X if y is None else (X, y)

    images = _check_images(X, min_samples, type(estimator).__name__)
    if reset:
        layout = ImageLayout(images.shape[1:],
                             resolve_channel_axis(images.shape, getattr(estimator,
                                                                        "channel_axis", None)),
                             images.dtype)
    else:
        layout = _check_same_kind(estimator, images, rank)
    if y is not None:  # also forgets feature names of an earlier fit on a DataFrame
        y = validate_data(estimator, "no_validation", y, reset=reset, multi_output=True,
                          y_numeric=True)
        check_consistent_length(images, y)
    if reset:
        estimator.input_shape_ = layout.shape
        estimator.channel_axis_ = layout.channel_axis
        estimator.n_features_in_ = int(np.prod(layout.shape))
        estimator._image_layout = layout
    images = layout.to_channels_first(images)
    return images if y is None else (images, y)


def input_scaler(inputs: np.ndarray) -> TableStandardizer | ImageStandardizer:
    """The standardiser for validated inputs: per column for tables, per channel for images."""
    return ImageStandardizer(inputs) if inputs.ndim == 4 else TableStandardizer(inputs)


def model_inputs(scaler: Standardizer | ImageStandardizer, inputs: np.ndarray) -> InputBatches:
    """Validated ``inputs`` as the network sees them, drawn batch by batch.

    Images stay in their own dtype (and file) and are standardised per batch on
    the device; a table, small by comparison, is standardised once here.
    """
    if isinstance(scaler, ImageStandardizer):
        return InputBatches(inputs, scaler.transform)
    return as_batches(scaler.transform(inputs))


def _rank(X) -> int | None:
    """Rank of ``X`` without converting arrays and DataFrames; ``None`` if unknown."""
    rank = getattr(X, "ndim", None)
    if rank is None and isinstance(X, (list, tuple)):
        try:
            rank = np.ndim(X)
        except ValueError:  # ragged nesting: let the table validation report it
            return None
    return rank if isinstance(rank, int) else None


def _reject_dates(X) -> None:
    """Raise a TypeError naming a date or time-span column of a table (array or DataFrame).

    NumPy would turn such a column into nanoseconds, and fail to promote it
    beside numeric columns of a DataFrame; neither is what a user means.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):  # a DataFrame: dtype per column
        columns = [(f"column {name!r}", dtype) for name, dtype in dtypes.items()]
    else:
        columns = [("X", getattr(X, "dtype", None))]
    for column, dtype in columns:
        if getattr(dtype, "kind", None) in ("m", "M"):
            raise TypeError(
                f"{column} has dtype {dtype}: dates and time spans are not numbers the model "
                "can read. Convert them to numbers first (e.g. days since a reference date: "
                "(dates - reference) / np.timedelta64(1, 'D')), or drop them."
            )


def _check_images(X, min_samples: int, name: str) -> np.ndarray:
    """A real-valued, finite image batch with at least ``min_samples`` images."""
    images = np.asarray(X)
    if images.dtype.kind == "O":
        try:
            images = images.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Image arrays must be numeric; X has dtype object: {error}"
            ) from error
    if images.dtype.kind not in "biuf":
        raise ValueError(f"Image arrays must be real numbers; X has dtype {images.dtype}.")
    if images.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {images.shape[0]} sample(s) (shape={images.shape}) while a "
            f"minimum of {min_samples} is required by {name}."
        )
    if 0 in images.shape[1:]:
        raise ValueError(f"X holds empty images: shape {images.shape}.")
    if images.dtype.kind == "f":
        _check_image_values(images)
    return images


def _check_image_values(images: np.ndarray) -> None:
    """Require finite values within the float32 range, reading one block at a time."""
    limit = float(np.finfo(np.float32).max)
    for block in image_blocks(images):
        peak = float(np.max(np.abs(block)))  # NaN if the block holds a NaN
        if not np.isfinite(peak):
            raise ValueError("Input X contains NaN or infinity; images must be finite.")
        if peak > limit:
            raise ValueError(
                f"Image values must fit in float32 (magnitude at most {limit:.4g}); X holds "
                f"values of magnitude {peak:.4g}. Rescale the images, e.g. divide X by its "
                "largest magnitude."
            )


def _check_same_kind(estimator, images: np.ndarray | None, rank: int | None) -> ImageLayout:
    """Require inputs of the kind and per-image shape seen in ``fit``; return its layout."""
    name = type(estimator).__name__
    layout = getattr(estimator, "_image_layout", None)
    if layout is None:
        if images is not None:
            raise ValueError(
                f"{name} was fitted on a table with {estimator.n_features_in_} features; "
                f"X is an array of rank {rank} with shape {images.shape}. Pass a 2-D table."
            )
        return None
    if images is None:
        raise ValueError(
            f"{name} was fitted on images of shape {layout.describe()}; X is not an image "
            f"batch (rank {rank}). Pass an array of shape (n, {', '.join(map(str, layout.shape))})."
        )
    if images.shape[1:] != layout.shape:
        hint = ""
        if images.shape == layout.shape:
            hint = " To predict a single image, add a batch axis: X[np.newaxis]."
        raise ValueError(
            f"X has images of shape {images.shape[1:]}, but {name} was fitted on images of "
            f"shape {layout.describe()}.{hint}"
        )
    if (images.dtype == np.uint8) != (layout.dtype == np.uint8):
        warnings.warn(
            f"{name} was fitted on {layout.dtype} images but X has dtype {images.dtype}. "
            "They are scaled with the statistics learned in fit, so their values must be on "
            "the same scale (0-255 for uint8).",
            UserWarning,
            stacklevel=4,
        )
    return layout
