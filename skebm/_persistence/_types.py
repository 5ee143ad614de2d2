"""What a skebm model file may hold, and which classes and functions loading may import.

Loading imports nothing the file names unless it is listed here or the caller
trusts it by name, and never unpickles: every value is plain data (JSON), an
array or tensor (safetensors), one of the registered classes below (rebuilt
from its fields), or a scikit-learn object read by ``skops.io``.
"""

from __future__ import annotations

import importlib
import inspect
from types import NoneType

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from skebm import _preprocessing
from skebm._base import BaseProbabilisticRegressor
from skebm._distilled import DistilledMDNRegressor
from skebm._energy import EnergyRegressor
from skebm._inputs import ImageLayout
from skebm._preprocessing import ImageStandardizer, Standardizer
from skebm.calibration import CalibrationMap, RecalibratedRegressor
from skebm.ensemble import EnsembleRegressor
from skebm.exceptions import ModelFormatError, UntrustedTypeError
from skebm.nn import ConvExtractor, MLPExtractor, ResNet18Extractor

__all__ = ["ESTIMATOR_KINDS", "FITTED_TYPES", "SKEBM_KINDS", "VALUE_CLASSES", "import_path",
           "is_built_in", "resolve", "trusted_names"]

def _preprocessing_classes() -> list[type]:
    return [obj for obj in map(_preprocessing.__dict__.get, _preprocessing.__all__)
            if isinstance(obj, type)]


VALUE_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (*_preprocessing_classes(), ImageLayout, CalibrationMap)
}
"""skebm's small value classes a fitted attribute may hold, written as their fields.

Every class of :mod:`skebm._preprocessing` (the scalers) and the classes named.

A class added here must keep all of its state in plain instance attributes
(``vars(obj)``): loading makes an instance without calling ``__init__`` and
sets them.
"""

SKEBM_KINDS: tuple[type, ...] = (BaseProbabilisticRegressor, RecalibratedRegressor,
                                  EnsembleRegressor)
"""skebm's estimators, whose saved state :mod:`skebm._migrations` upgrades."""
ESTIMATOR_KINDS: tuple[type, ...] = (*SKEBM_KINDS, Pipeline)
"""Estimators written as parameters and fitted attributes; other scikit-learn
objects go through ``skops.io``."""

_KNOWN_ESTIMATORS = (EnergyRegressor, DistilledMDNRegressor, RecalibratedRegressor,
                     EnsembleRegressor, Pipeline)
_KNOWN_CALLABLES = (MLPExtractor, ConvExtractor, ResNet18Extractor)

FITTED_TYPES: dict[str, tuple[type, ...]] = {
    "n_features_in_": (int,),
    "input_shape_": (tuple,),
    "hidden_size_": (int,),
    "input_bins_": (int,),
    "background_weight_": (float,),
    "proposal_weight_": (float,),
    "n_iter_": (int,),
    "history_": (list,),
    "validation_indices_": (np.ndarray,),
    "device_": (torch.device,),
    "pit_values_": (np.ndarray,),
    "final_pit_values_": (np.ndarray,),
    "fits_": (list,),
    "calibration_": (CalibrationMap,),
    "calibrations_": (list,),
    "_target_dim": (int,),
    "_target_ndim": (int,),
    "_input_scaler": (Standardizer, ImageStandardizer),
    "_target_scaler": (Standardizer,),
    "_grid_bounds": (tuple,),
    "_inference_seed": (int,),
    "_image_layout": (ImageLayout, NoneType),
    "_input_bin_edges": (list, NoneType),
    "_architecture": (dict, NoneType),
}
"""The types of the fitted attributes that prediction relies on, checked at loading."""


def import_path(obj) -> str:
    """``"package.module.QualName"``, the name under which ``obj`` is saved and trusted."""
    return f"{obj.__module__}.{obj.__qualname__}"


_BUILT_IN = {import_path(obj): obj for obj in _KNOWN_ESTIMATORS + _KNOWN_CALLABLES}


def trusted_names(trusted) -> dict[str, object]:
    """The import paths the caller of ``load`` trusts, each with the object if it was given.

    An object passed itself is used as it is (it need not be importable: a
    class of a notebook or script); a name is imported when a file needs it.
    """
    if trusted is None:
        return {}
    if isinstance(trusted, (str, type)) or callable(trusted):
        trusted = [trusted]
    names = {}
    for item in trusted:
        if isinstance(item, str):
            names.setdefault(item, None)
        elif inspect.isclass(item) or inspect.isfunction(item):
            names[import_path(item)] = item
        else:
            raise TypeError(
                "trusted must hold import paths such as 'mypackage.nets.MyExtractor', or the "
                f"classes and functions themselves; got {item!r}.")
    return names


def is_built_in(name: str) -> bool:
    """Whether loading may import ``name`` without the caller trusting it."""
    return name in _BUILT_IN


def resolve(module_name: str, qualname: str, trusted: dict[str, object], where: str):
    """The class or function saved as ``module_name.qualname``, if built in or trusted.

    Nothing is imported for a name that is neither, so a file cannot make
    loading run the top-level code of a module it names.
    """
    name = f"{module_name}.{qualname}"
    if name in _BUILT_IN:
        return _BUILT_IN[name]
    if name not in trusted:
        raise UntrustedTypeError(
            f"{where} is {name}, which is not part of skebm: loading would import it and "
            f"call it. If you trust the code of {name} (not just this file), pass "
            f"trusted=[{name!r}] to skebm.load.")
    if trusted[name] is not None:
        return trusted[name]
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as error:
        raise ModelFormatError(f"{where}: {name} cannot be imported here: {error}") from error
    if not (inspect.isclass(obj) or inspect.isfunction(obj)) or import_path(obj) != name:
        raise ModelFormatError(
            f"{where}: {name} is not a class or function defined under that name.")
    return obj
