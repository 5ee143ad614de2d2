"""Feature extractors: modules mapping a batch of inputs to ``(batch, features)``.

The protocol every extractor follows, built-in or user-supplied: ``forward``
takes a float32 batch ``(batch, *input_shape)`` -- ``(batch, n_features)`` for
tables, ``(batch, C, H, W)`` for images -- and returns ``(batch, features)``.
The feature size is read from an integer ``out_features`` attribute or, when
there is none, found by a dry run on a small batch.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from skebm.nn._checks import layer_sizes, positive_int
from skebm.nn.conv import ConvExtractor
from skebm.nn.resnet import ResNet18Extractor

# The helpers below MLPExtractor (building, checking and sizing extractors) serve
# the estimators; they are importable from this module but not public API.
__all__ = ["MLPExtractor"]

EXTRACTOR_NAMES = ("mlp", "cnn", "resnet18")
"""Names of the built-in extractors: tables (``"mlp"``) and images."""


class AutocastExtractor(nn.Module):
    """Runs a feature extractor under bfloat16 autocast and returns float32 features.

    Mixed precision where it pays (the convolutions or large matrix products of
    the extractor) while the energy and mixture heads, whose log-densities need
    the precision, stay in float32.

    Parameters
    ----------
    extractor : nn.Module
        The wrapped extractor, with an ``out_features`` attribute.
    """

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor
        self.out_features = int(extractor.out_features)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Compute the features of ``inputs`` in bfloat16 and return them as float32.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, ...)``
            A batch of inputs of the wrapped extractor.

        Returns
        -------
        Tensor of shape ``(batch, out_features)``
            The features, float32.
        """
        with torch.autocast(device_type=inputs.device.type, dtype=torch.bfloat16):
            features = self.extractor(inputs)
        return features.float()


class MLPExtractor(nn.Module):
    """A fully connected ReLU network for tabular inputs.

    Parameters
    ----------
    in_features : int
        Number of input columns.
    hidden_sizes : sequence of int, default=(64, 64)
        Width of each hidden layer, at least 1; the last one is the feature size.

    Attributes
    ----------
    out_features : int
        Size of the features the module returns.

    Raises
    ------
    TypeError, ValueError
        If ``in_features`` or a width is not a positive integer, or
        ``hidden_sizes`` is empty.
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = positive_int(in_features, "in_features")
        for size in layer_sizes(hidden_sizes, "hidden_sizes", "layer"):
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Extract features from a batch of inputs (flattened first).

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, in_features)`` or ``(batch, ...)``
            The inputs.

        Returns
        -------
        Tensor of shape ``(batch, out_features)``
            The features of each input.
        """
        return self.net(inputs.flatten(1))


def build_extractor(
    extractor: str | Callable[..., nn.Module] | nn.Module,
    input_shape: tuple[int, ...],
    **kwargs,
) -> nn.Module:
    """Build a feature extractor for inputs of shape ``(batch, *input_shape)``.

    :func:`instantiate_extractor` followed by :func:`check_extractor`.

    Parameters
    ----------
    extractor : {"mlp", "cnn", "resnet18"}, callable or nn.Module
        A built-in by name, an ``nn.Module`` subclass or factory, or a module
        instance (see :func:`instantiate_extractor`).
    input_shape : tuple of int
        Shape of one preprocessed input (without the batch axis).
    **kwargs
        Passed to the extractor's constructor.

    Returns
    -------
    nn.Module
        A module with an integer ``out_features`` attribute.

    Examples
    --------
    >>> from torch import nn
    >>> from skebm.nn.extractors import build_extractor
    >>> build_extractor("cnn", (1, 16, 16), channels=(8, 16)).out_features
    16
    >>> factory = lambda input_shape: nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], 5))
    >>> build_extractor(factory, (3,)).out_features
    5
    """
    return check_extractor(instantiate_extractor(extractor, input_shape, **kwargs), input_shape)


def instantiate_extractor(
    extractor: str | Callable[..., nn.Module] | nn.Module,
    input_shape: tuple[int, ...],
    **kwargs,
):
    """Create (but do not check) a feature extractor.

    Parameters
    ----------
    extractor : {"mlp", "cnn", "resnet18"}, callable or nn.Module
        A built-in by name -- ``"mlp"`` (:class:`MLPExtractor`, any input,
        flattened), ``"cnn"`` (:class:`~skebm.nn.ConvExtractor`) or
        ``"resnet18"`` (:class:`~skebm.nn.ResNet18Extractor`), both for images
        ``(C, H, W)`` --; an ``nn.Module`` subclass or factory, called with
        ``**kwargs`` plus ``input_shape=input_shape`` when it takes an
        ``input_shape`` argument that ``kwargs`` does not give; or a module
        instance, which is deep-copied so that every call starts afresh.
    input_shape : tuple of int
        Shape of one preprocessed input (without the batch axis).
    **kwargs
        Passed to the extractor's constructor.

    Returns
    -------
    nn.Module
        The new extractor.
    """
    if isinstance(extractor, str):
        return _build_named(extractor, tuple(input_shape), kwargs)
    if isinstance(extractor, nn.Module):
        if kwargs:
            raise ValueError(
                "feature_extractor is a module instance, so feature_extractor_kwargs must be "
                "empty; pass the module's class or a factory to use keyword arguments."
            )
        return copy.deepcopy(extractor)
    if _accepts_input_shape(extractor) and "input_shape" not in kwargs:
        kwargs = {**kwargs, "input_shape": tuple(input_shape)}
    return extractor(**kwargs)


def check_extractor(module, input_shape: tuple[int, ...]) -> nn.Module:
    """Check that ``module`` follows the extractor protocol; set ``out_features`` if missing.

    Parameters
    ----------
    module : nn.Module
        The extractor to check.
    input_shape : tuple of int
        Shape of one preprocessed input (without the batch axis).

    Returns
    -------
    nn.Module
        ``module`` itself, with ``out_features`` set.

    Raises
    ------
    TypeError
        If ``module`` is not an ``nn.Module``.
    ValueError
        If it does not map ``(batch, *input_shape)`` to ``(batch, features)``, or
        its ``out_features`` attribute disagrees with what it returns.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"feature_extractor must build a torch.nn.Module, got {type(module).__name__}."
        )
    size = feature_size(module, input_shape)
    declared = getattr(module, "out_features", None)
    if declared is None:
        module.out_features = size
    elif declared != size:
        raise ValueError(
            f"The feature extractor declares out_features={declared!r} but returns "
            f"{size} features per input."
        )
    return module


def feature_size(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Number of features ``module`` returns, found by a dry run on two zero inputs.

    The module runs in evaluation mode without gradients (its state is left as
    it was) and must map ``(2, *input_shape)`` to ``(2, features)``.

    Parameters
    ----------
    module : nn.Module
        The extractor.
    input_shape : tuple of int
        Shape of one preprocessed input (without the batch axis).

    Returns
    -------
    int
        The number of features per input.

    Raises
    ------
    ValueError
        If the module fails on the batch or returns another shape.
    """
    parameter = next(module.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    probe = torch.zeros(2, *input_shape, device=device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            output = module(probe)
    except Exception as error:
        raise ValueError(
            f"The feature extractor failed on a float32 batch of shape {tuple(probe.shape)}: "
            f"{error}"
        ) from error
    finally:
        module.train(was_training)
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[0] != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(
            f"The feature extractor must map a batch of shape {tuple(probe.shape)} to "
            f"(2, features); it returned {shape}."
        )
    return int(output.shape[1])


def _build_named(name: str, input_shape: tuple[int, ...], kwargs: dict) -> nn.Module:
    if name == "mlp":
        in_features = 1
        for size in input_shape:
            in_features *= size
        return MLPExtractor(in_features, **kwargs)
    if name in ("cnn", "resnet18"):
        if len(input_shape) != 3:
            raise ValueError(
                f"The {name!r} feature extractor needs images, (n, H, W), (n, H, W, C) or "
                f"(n, C, H, W); got inputs of shape (n, {', '.join(map(str, input_shape))})."
            )
        builder = ConvExtractor if name == "cnn" else ResNet18Extractor
        return builder(in_channels=input_shape[0], **kwargs)
    raise ValueError(
        f"Unknown feature extractor {name!r}; the built-ins are {', '.join(EXTRACTOR_NAMES)}."
    )


def _accepts_input_shape(factory: Callable) -> bool:
    """Whether ``factory`` takes an argument named ``input_shape``."""
    try:
        return "input_shape" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no introspectable signature
        return False
