"""Turn an estimator into plain data (JSON), tensors and skops blobs, refusing anything else.

Every value becomes JSON: ``None``, booleans, strings, integers and finite
floats as they are, lists as lists, and everything else as an object whose
``"type"`` says how to rebuild it (see :mod:`skebm._persistence._decoder`).
Arrays and tensors go to the safetensors part under a key the JSON names.
An estimator is written as its parameters and the rest of its ``__dict__``
(the fitted attributes); its network, ``module_``, as the recorded
architecture and the tensors of its state dict. An estimator met a second
time (``RecalibratedRegressor.estimator_`` is one of its ``fits_``) is
written as a reference to the first.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator

from skebm._base import BaseProbabilisticRegressor
from skebm._persistence._types import ESTIMATOR_KINDS, VALUE_CLASSES, import_path

__all__ = ["Encoder"]

_ARRAY_KINDS = "biuf"  # dtypes written to safetensors; strings are written to the JSON


class Encoder:
    """Collects the JSON tree, the tensors and the skops blobs of one model."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.blobs: dict[str, bytes] = {}
        self._numbers: dict[int, int] = {}  # id(estimator) -> its number in the file
        self._alive: list = []  # the numbered objects, so that their ids stay unique

    def encode(self, value, where: str):
        """The JSON form of ``value``; ``where`` names it in error messages."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return int(value)
        if isinstance(value, float) and not isinstance(value, np.floating):
            return float(value) if math.isfinite(value) else {"type": "float",
                                                               "value": repr(float(value))}
        if isinstance(value, list):
            return [self.encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, tuple):
            if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1],
                                                                            BaseEstimator):
                where = f"{where} (step {value[0]!r})"  # a Pipeline step, named
            return {"type": "tuple",
                    "items": [self.encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
        if isinstance(value, dict):
            return self._dict(value, where)
        if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
            return self._numeric(value, where)
        if isinstance(value, torch.device):
            return {"type": "device", "value": str(value)}
        if isinstance(value, np.dtype):
            return self._dtype(value, where)
        if isinstance(value, np.random.RandomState):
            return {"type": "random_state",
                    "state": self.encode(value.get_state(legacy=True), f"{where}.get_state()")}
        if type(value).__name__ in VALUE_CLASSES and VALUE_CLASSES[type(value).__name__] is \
                type(value):
            return {"type": "object", "class": type(value).__name__,
                    "fields": self._fields(vars(value), where)}
        if isinstance(value, BaseEstimator):
            return self.estimator(value, where)
        if isinstance(value, torch.nn.Module):
            raise TypeError(
                f"{where} is a module instance ({type(value).__name__}), which skebm.save cannot "
                "rebuild: pass its class (with feature_extractor_kwargs) or a factory "
                "function instead, so that the network can be built from its name.")
        if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
            return self._import(value, where)
        raise TypeError(
            f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which "
            "skebm.save cannot write. It writes plain Python values, NumPy arrays, tensors, "
            "estimators and the classes registered in skebm/_persistence/_types.py.")

    # ------------------------------------------------------------ estimators
    def estimator(self, estimator: BaseEstimator, where: str) -> dict:
        """Parameters, fitted attributes and network of ``estimator`` (or a reference)."""
        if id(estimator) in self._numbers:
            return {"type": "ref", "id": self._numbers[id(estimator)]}
        number = len(self._numbers)
        self._numbers[id(estimator)] = number
        self._alive.append(estimator)
        if not isinstance(estimator, ESTIMATOR_KINDS):
            return self._skops(estimator, number, where)
        cls = type(estimator)
        params = estimator.get_params(deep=False)
        state = {name: value for name, value in vars(estimator).items() if name not in params}
        network = None
        if isinstance(estimator, BaseProbabilisticRegressor) and "module_" in state:
            network = self._network(estimator, state.pop("module_"), f"{number}.module_",
                                    f"{where}.module_")
        record = {"type": "estimator", "id": number,
                  "class": self._import(cls, f"{where} (its class)"),
                  "params": self._fields(params, where), "state": self._fields(state, where)}
        if network is not None:
            record["network"] = network
        return record

    def _network(self, estimator, module: torch.nn.Module, prefix: str, where: str) -> dict:
        """The architecture of ``module`` (rebuilt by ``_build_module``) and its tensors."""
        tensors = module.state_dict()
        for name, tensor in tensors.items():
            self.tensors[f"{prefix}.{name}"] = _cpu_copy(tensor)
        return {
            "input_shape": list(_network_input_shape(estimator)),
            "target_dim": int(estimator._target_dim),
            "tensors": prefix,
            "state_dict": list(tensors),
            # Submodules set to None after building (a dropped teacher) and any left training.
            "absent": [_join(owner, name) for owner, submodule in module.named_modules()
                       for name, child in submodule._modules.items() if child is None],
            "training": [name for name, submodule in module.named_modules()
                         if submodule.training],
        }

    def _skops(self, estimator: BaseEstimator, number: int, where: str) -> dict:
        name = type(estimator).__name__
        try:
            import skops.io
        except ImportError:
            raise TypeError(
                f"{where} is a {name}, which skebm.save writes with skops.io, and skops is not "
                "installed: pip install 'skebm[skops]'.") from None
        try:
            blob = skops.io.dumps(estimator)
        except Exception as error:  # skops names what it cannot write
            raise TypeError(f"{where} ({name}) cannot be written by skops.io: {error}") from error
        path = f"objects/{number}.skops"
        self.blobs[path] = blob
        return {"type": "skops", "id": number, "file": path}

    # ------------------------------------------------------------ values
    def _fields(self, mapping: dict, where: str) -> dict:
        return {name: self.encode(value, f"{where}.{name}") for name, value in mapping.items()}

    def _dict(self, value: dict, where: str) -> dict:
        keys = [key for key in value if not isinstance(key, str)]
        if keys:
            raise TypeError(f"{where} is a dict with a key {keys[0]!r} that is not a string, "
                            "which skebm.save cannot write.")
        items = {key: self.encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {"type": "dict", "items": items}

    def _numeric(self, value, where: str) -> dict:
        if isinstance(value, np.generic):
            dtype = self._dtype(value.dtype, where)["value"]
            item = value.item()
            if isinstance(item, float) and not math.isfinite(item):
                item = repr(item)
            return {"type": "scalar", "dtype": dtype, "value": item}
        if isinstance(value, torch.Tensor):
            key = f"t{len(self.tensors)}"
            self.tensors[key] = _cpu_copy(value)
            return {"type": "tensor", "tensor": key}
        array = np.asarray(value)  # a memmap as a plain array
        if array.dtype.kind in _ARRAY_KINDS and array.dtype.fields is None:
            key = f"a{len(self.tensors)}"
            native = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
            self.tensors[key] = torch.from_numpy(native.copy())
            return {"type": "ndarray", "tensor": key, "dtype": native.dtype.str}
        flat = array.reshape(-1).tolist()
        if array.dtype.kind in "OU" and all(isinstance(item, str) for item in flat):
            return {"type": "ndarray", "dtype": "O" if array.dtype.kind == "O" else array.dtype.str,
                    "shape": list(array.shape), "items": flat}
        raise TypeError(f"{where} is an array of dtype {array.dtype}, which skebm.save cannot "
                        "write (it writes numbers, booleans and strings).")

    def _dtype(self, dtype: np.dtype, where: str) -> dict:
        if dtype.fields is not None or dtype.kind not in "biufcUSM":
            raise TypeError(f"{where} has dtype {dtype}, which skebm.save cannot write.")
        return {"type": "dtype", "value": dtype.str}

    def _import(self, obj, where: str) -> dict:
        name = import_path(obj)
        if "<" in name or not (isinstance(obj, type) or hasattr(obj, "__code__")):
            raise TypeError(
                f"{where} is {obj!r}, which cannot be imported by name ({name}): define it at "
                "the top level of a module so that skebm.load can import it.")
        return {"type": "import", "module": obj.__module__, "qualname": obj.__qualname__}


def _network_input_shape(estimator) -> tuple[int, ...]:
    """Shape of one input as the network reads it: ``(n_features,)`` or ``(C, H, W)``."""
    layout = estimator._image_layout
    if layout is None:
        return tuple(int(size) for size in estimator.input_shape_)
    one = layout.to_channels_first(np.empty((1, *layout.shape), dtype=np.uint8))
    return tuple(int(size) for size in one.shape[1:])


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy: safetensors refuses tensors that share memory."""
    return tensor.detach().cpu().clone(memory_format=torch.contiguous_format)


def _join(owner: str, name: str) -> str:
    return f"{owner}.{name}" if owner else name
