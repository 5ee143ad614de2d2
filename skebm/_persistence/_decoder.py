"""Rebuild an estimator from the JSON tree, tensors and skops blobs of a model file.

The mirror of :mod:`skebm._persistence._encoder`. Every object of the tree
is checked (its ``"type"``, its fields and their JSON types) before it is
used; classes and functions are imported only if built in or trusted (see
:func:`skebm._persistence._types.resolve`); networks are built by the
estimator's own ``_build_module`` from the recorded architecture and must
take the saved tensors exactly. Any inconsistency raises
:class:`~skebm.exceptions.ModelFormatError`; the objects built so far are
dropped, so no partly loaded model is ever returned.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from skebm._base import _GLOBAL_SEED_LOCK, BaseProbabilisticRegressor
from skebm._migrations import FORMAT_VERSION, upgrade_state
from skebm._persistence._types import (
    ESTIMATOR_KINDS,
    FITTED_TYPES,
    SKEBM_KINDS,
    VALUE_CLASSES,
    is_built_in,
    resolve,
)
from skebm.exceptions import ModelFormatError, UntrustedTypeError

__all__ = ["Decoder", "untrusted_names"]

_NON_FINITE = {"nan", "inf", "-inf"}


class Decoder:
    """Builds the objects of one model file.

    Parameters
    ----------
    tensors : dict of str to Tensor
        The safetensors part of the file.
    blobs : dict of str to bytes
        The skops files of the archive, by name.
    trusted : dict of str to object
        Import paths the caller trusts, with the objects the caller passed.
    version : int
        The file's format version (checked), for :func:`upgrade_state`.
    """

    def __init__(self, tensors: dict, blobs: dict, trusted: dict[str, object], version: int):
        self._tensors, self._blobs, self._trusted = tensors, blobs, trusted
        self._version = version
        self._objects: dict[int, object] = {}

    def decode(self, value, where: str):
        """The object that the JSON ``value`` describes; ``where`` names it in errors."""
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.decode(item, f"{where}[{i}]") for i, item in enumerate(value)]
        kind = value.get("type") if isinstance(value, dict) else None
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ModelFormatError(f"{where}: {_short(value)} is not a value skebm writes.")
        return handler(self, value, where)

    # ------------------------------------------------------------ estimators
    def _estimator(self, record: dict, where: str):
        _check(record, where, {"id": int, "class": dict, "params": dict, "state": dict},
               optional={"network": dict})
        number = self._new_id(record["id"], where)
        cls = self._import(record["class"], f"{where} (its class)")
        if not (isinstance(cls, type) and issubclass(cls, ESTIMATOR_KINDS)):
            raise ModelFormatError(f"{where}: {cls!r} is not an estimator skebm.load rebuilds.")
        params = {name: self.decode(value, f"{where}.{name}")
                  for name, value in record["params"].items()}
        state = {name: self.decode(value, f"{where}.{name}")
                 for name, value in record["state"].items()}
        attributes = {**params, **state}
        if issubclass(cls, SKEBM_KINDS):
            upgrade_state(attributes, self._version, cls._get_param_names(),
                          fitted="network" in record)
        expected = set(cls._get_param_names())
        unknown = sorted(set(params) - expected)
        missing = sorted(expected - set(attributes))
        if unknown or missing:
            raise ModelFormatError(f"{where}: the parameters of {cls.__name__} do not match: "
                                   f"unknown {unknown}, missing {missing}.")
        _check_fitted_types(state, where)
        estimator = cls.__new__(cls)
        estimator.__dict__.update(attributes)
        try:
            estimator._validate_params()
        except (TypeError, ValueError) as error:
            raise ModelFormatError(f"{where}: {error}") from error
        if "network" in record:
            if not issubclass(cls, BaseProbabilisticRegressor):
                raise ModelFormatError(f"{where}: a {cls.__name__} has no network.")
            module = self._network(estimator, record["network"], f"{where}.module_")
            estimator = cls.__new__(cls)  # the pickle path: migrations done, device chosen
            estimator.__setstate__({**attributes, "module_": module,
                                    "_skebm_pickle_format": FORMAT_VERSION})
        self._objects[number] = estimator
        return estimator

    def _network(self, estimator, record: dict, where: str) -> torch.nn.Module:
        _check(record, where, {"input_shape": list, "target_dim": int, "tensors": str,
                               "state_dict": list, "absent": list, "training": list})
        shape = record["input_shape"]
        if not shape or not all(_is_int(size) and size > 0 for size in shape):
            raise ModelFormatError(f"{where}: input_shape {shape!r} is not a shape.")
        for name in ("state_dict", "absent", "training"):
            if not all(isinstance(item, str) for item in record[name]):
                raise ModelFormatError(f"{where}: {name} must list names.")
        try:
            with _GLOBAL_SEED_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # weights are replaced below; the seed keeps it quiet
                module = _builder(estimator)._build_module(tuple(shape), record["target_dim"])
            for path in record["absent"]:
                owner, _, name = path.rpartition(".")
                parent = module.get_submodule(owner)
                if name not in parent._modules:
                    raise AttributeError(f"it has no submodule {path!r}")
                setattr(parent, name, None)
        except UntrustedTypeError:
            raise
        except Exception as error:  # whatever the recorded architecture makes the build do
            raise ModelFormatError(f"{where}: the network cannot be rebuilt from the recorded "
                                   f"architecture: {error}") from error
        saved = {}
        for name in record["state_dict"]:
            key = f"{record['tensors']}.{name}"
            if key not in self._tensors:
                raise ModelFormatError(f"{where}: the file lacks the tensor {key!r}.")
            saved[name] = self._tensors[key]
        expected = module.state_dict()
        if set(saved) != set(expected):
            raise ModelFormatError(
                f"{where}: the saved tensors do not fit the network rebuilt from the recorded "
                f"architecture: missing {sorted(set(expected) - set(saved))}, unexpected "
                f"{sorted(set(saved) - set(expected))}.")
        for name, tensor in saved.items():
            if tensor.shape != expected[name].shape or tensor.dtype != expected[name].dtype:
                raise ModelFormatError(
                    f"{where}: tensor {name!r} has shape {tuple(tensor.shape)} ({tensor.dtype}); "
                    "the network rebuilt from the recorded architecture needs "
                    f"{tuple(expected[name].shape)} ({expected[name].dtype}).")
        module.load_state_dict(saved, strict=True)
        module.train(False)
        try:
            for name in record["training"]:
                module.get_submodule(name).training = True
        except AttributeError as error:
            raise ModelFormatError(f"{where}: {error}") from error
        return module

    def _skops(self, record: dict, where: str):
        _check(record, where, {"id": int, "file": str})
        number = self._new_id(record["id"], where)
        if record["file"] not in self._blobs:
            raise ModelFormatError(f"{where}: the file lacks {record['file']!r}.")
        skops_io = _skops_io(where)
        blob = self._blobs[record["file"]]
        try:
            found = skops_io.get_untrusted_types(data=blob)
        except Exception as error:
            raise ModelFormatError(f"{where}: {record['file']} cannot be read: {error}") from error
        untrusted = sorted(set(found) - set(self._trusted))
        if untrusted:
            raise UntrustedTypeError(
                f"{where} holds {', '.join(untrusted)}, which skops.io does not trust by "
                f"default. If you trust that code, pass trusted={untrusted!r} to skebm.load.")
        try:
            value = skops_io.loads(blob, trusted=list(found) or None)
        except Exception as error:
            raise ModelFormatError(f"{where}: {record['file']} cannot be read: {error}") from error
        self._objects[number] = value
        return value

    def _reference(self, record: dict, where: str):
        _check(record, where, {"id": int})
        if record["id"] not in self._objects:
            raise ModelFormatError(f"{where}: refers to object {record['id']}, not defined before.")
        return self._objects[record["id"]]

    def _new_id(self, number: int, where: str) -> int:
        if number in self._objects:
            raise ModelFormatError(f"{where}: object {number} is defined twice.")
        return number

    # ------------------------------------------------------------ values
    def _import(self, record: dict, where: str):
        _check(record, where, {"module": str, "qualname": str})
        return resolve(record["module"], record["qualname"], self._trusted, where)

    def _tensor(self, key, where: str) -> torch.Tensor:
        if not isinstance(key, str) or key not in self._tensors:
            raise ModelFormatError(f"{where}: the file lacks the tensor {key!r}.")
        return self._tensors[key]

    def _array(self, record: dict, where: str) -> np.ndarray:
        if "tensor" in record:
            _check(record, where, {"tensor": str, "dtype": str})
            array = self._tensor(record["tensor"], where).numpy()
            if array.dtype != _dtype(record["dtype"], where, "biuf"):
                raise ModelFormatError(f"{where}: the array has dtype {array.dtype}, the file "
                                       f"says {record['dtype']}.")
            return array
        _check(record, where, {"dtype": str, "shape": list, "items": list})
        dtype = _dtype(record["dtype"], where, "OU")
        if not all(isinstance(item, str) for item in record["items"]):
            raise ModelFormatError(f"{where}: an array of strings holds other values.")
        try:
            return np.array(record["items"], dtype=dtype).reshape(record["shape"])
        except (TypeError, ValueError) as error:
            raise ModelFormatError(f"{where}: {error}") from error

    def _scalar(self, record: dict, where: str):
        _check(record, where, {"dtype": str, "value": (bool, int, float, str)})
        dtype, value = _dtype(record["dtype"], where, "biuf"), record["value"]
        valid = {"b": isinstance(value, bool),
                 "f": isinstance(value, float) or value in _NON_FINITE}.get(
                     dtype.kind, _is_int(value))
        if not valid:
            raise ModelFormatError(f"{where}: {value!r} is not a {dtype} value.")
        return dtype.type(float(value) if dtype.kind == "f" else value)

    def _object(self, record: dict, where: str):
        _check(record, where, {"class": str, "fields": dict})
        cls = VALUE_CLASSES.get(record["class"])
        if cls is None:
            raise ModelFormatError(f"{where}: {record['class']!r} is not a class skebm writes.")
        fields = {name: self.decode(value, f"{where}.{name}")
                  for name, value in record["fields"].items()}
        if dataclasses.is_dataclass(cls) and set(fields) != {f.name for f in
                                                             dataclasses.fields(cls)}:
            raise ModelFormatError(f"{where}: the fields of {cls.__name__} do not match.")
        value = cls.__new__(cls)
        value.__dict__.update(fields)
        return value

    def _random_state(self, record: dict, where: str) -> np.random.RandomState:
        _check(record, where, {"state": dict})
        generator = np.random.RandomState()
        try:
            generator.set_state(self.decode(record["state"], f"{where}.state"))
        except (TypeError, ValueError) as error:
            raise ModelFormatError(f"{where}: {error}") from error
        return generator

    def _simple(self, record: dict, where: str):
        kind = record["type"]
        if kind == "tuple":
            _check(record, where, {"items": list})
            items = record["items"]
            if len(items) == 2 and isinstance(items[0], str) and isinstance(items[1], dict) \
                    and items[1].get("type") in ("estimator", "skops", "ref"):
                where = f"{where} (step {items[0]!r})"  # a Pipeline step, named
            return tuple(self.decode(items, where))
        if kind == "dict":
            _check(record, where, {"items": dict})
            return {key: self.decode(value, f"{where}[{key!r}]")
                    for key, value in record["items"].items()}
        if kind == "tensor":
            _check(record, where, {"tensor": str})
            return self._tensor(record["tensor"], where)
        _check(record, where, {"value": str})
        if kind == "float" and record["value"] in _NON_FINITE:
            return float(record["value"])
        if kind == "dtype":
            return _dtype(record["value"], where, "biufcUSM")
        if kind == "device":
            try:
                return torch.device(record["value"])
            except RuntimeError as error:
                raise ModelFormatError(f"{where}: {error}") from error
        raise ModelFormatError(f"{where}: {record['value']!r} is not a {kind}.")


_HANDLERS = {
    "estimator": Decoder._estimator, "skops": Decoder._skops, "ref": Decoder._reference,
    "import": Decoder._import, "ndarray": Decoder._array, "scalar": Decoder._scalar,
    "object": Decoder._object, "random_state": Decoder._random_state,
    **dict.fromkeys(("tuple", "dict", "tensor", "float", "dtype", "device"), Decoder._simple),
}


def untrusted_names(value, blobs: dict) -> list[str]:
    """The import paths in a file's JSON tree that ``load`` would need trusted."""
    found = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            kind = item.get("type")
            named = item.get("class") if kind == "estimator" else item
            if kind in ("estimator", "import") and isinstance(named, dict):
                name = f"{named.get('module')}.{named.get('qualname')}"
                if not is_built_in(name):
                    found.add(name)
            if kind == "skops" and item.get("file") in blobs:
                found.update(_skops_io("the file").get_untrusted_types(data=blobs[item["file"]]))
            stack.extend(item.values())
    return sorted(found)


def _builder(estimator):
    """The estimator whose ``_build_module`` rebuilds the network.

    ResNet-18's initial ``weights`` (a path, perhaps of another machine) are
    left out: the saved weights replace them.
    """
    kwargs = estimator.feature_extractor_kwargs
    if isinstance(estimator.feature_extractor, str) and estimator.feature_extractor == "resnet18" \
            and isinstance(kwargs, dict) and "weights" in kwargs:
        estimator = estimator._shallow_copy()
        estimator.feature_extractor_kwargs = {k: v for k, v in kwargs.items() if k != "weights"}
    return estimator


def _check(record: dict, where: str, fields: dict, optional: dict | None = None) -> None:
    """Require exactly ``fields`` (and perhaps ``optional``) with the given JSON types."""
    allowed = {**fields, **(optional or {}), "type": str}
    keys = set(record)
    if not set(fields) <= keys or not keys <= set(allowed):
        raise ModelFormatError(f"{where}: {_short(record)} should have the fields "
                               f"{sorted(fields)}.")
    for name in keys:
        types = allowed[name]
        value = record[name]
        if not isinstance(value, types) or (isinstance(value, bool) and types is int):
            raise ModelFormatError(f"{where}: field {name!r} is {_short(value)}, not of the "
                                   f"type the format gives it ({_type_names(types)}).")


def _check_fitted_types(state: dict, where: str) -> None:
    for name, types in FITTED_TYPES.items():
        if name not in state:
            continue
        value = state[name]
        if not isinstance(value, types) or (isinstance(value, bool) and int in types):
            raise ModelFormatError(f"{where}.{name} is {_short(value)}, of type "
                                   f"{type(value).__name__}; it must be of type "
                                   f"{_type_names(types)}.")


def _dtype(text: str, where: str, kinds: str) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except TypeError as error:
        raise ModelFormatError(f"{where}: {text!r} is not a dtype.") from error
    if dtype.kind not in kinds or dtype.fields is not None:
        raise ModelFormatError(f"{where}: dtype {dtype} is not allowed here.")
    return dtype


def _skops_io(where: str):
    try:
        import skops.io
    except ImportError:
        raise ModelFormatError(f"{where} was written with skops.io, which is not installed: "
                               "pip install 'skebm[skops]'.") from None
    return skops.io


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join("None" if t is type(None) else t.__name__ for t in types)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
