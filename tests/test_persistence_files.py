"""skebm.load on files that are broken, crafted to run code, or of other format versions.

Each must fail with a clear ModelFormatError (UntrustedTypeError for code that
is not trusted) before any object is returned, and nothing in them may run.
"""

import io
import json
import pickle
import sys
import zipfile

import pytest
import torch
from helpers import linear_data, tiny_estimators
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skebm import load, save
from skebm._migrations import FORMAT_VERSION, OLDEST_FILE_FORMAT
from skebm.exceptions import ModelFormatError, UntrustedTypeError


@pytest.fixture(scope="module")
def model_file():
    """The bytes of a small fitted EnergyRegressor with the input encoding."""
    X, y = linear_data()
    file = io.BytesIO()
    save(tiny_estimators()["energy"](device="cpu").fit(X, y), file)
    return file.getvalue()


def rewritten(data: bytes, edit_manifest=None, **members: bytes) -> bytes:
    """A copy of a model file with its manifest edited in place and members replaced."""
    members = {name.replace("__", "/").replace("_dot_", "."): value
               for name, value in members.items()}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = members.pop(name, source.read(name))
            if name == "manifest.json" and edit_manifest is not None:
                manifest = json.loads(content)
                edit_manifest(manifest)
                content = json.dumps(manifest).encode()
            target.writestr(name, content)
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


def load_bytes(data: bytes, **options):
    return load(io.BytesIO(data), **options)


def test_the_helper_rewrites_a_file_that_still_loads(model_file):
    load_bytes(rewritten(model_file, lambda manifest: None))


# ====================================================================== broken files
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(model_file, keep):
    with pytest.raises(ModelFormatError, match="not a skebm model file, or it is truncated"):
        load_bytes(model_file[: int(keep * len(model_file))])


def test_a_file_of_another_format_is_refused(model_file):
    def other(manifest):
        manifest["format"] = "sklearn.model"

    with pytest.raises(ModelFormatError, match="names the format 'sklearn.model', not 'skebm"):
        load_bytes(rewritten(model_file, other))
    with pytest.raises(ModelFormatError, match="not a skebm model file"):
        load_bytes(b"GIF89a" + bytes(200))


def test_a_corrupted_byte_is_found(model_file):
    data = bytearray(model_file)
    data[len(data) // 2] ^= 0xFF  # inside the compressed tensors
    with pytest.raises(ModelFormatError):
        load_bytes(bytes(data))


def test_a_tensor_of_the_wrong_shape_is_refused_by_name(model_file):
    archive = zipfile.ZipFile(io.BytesIO(model_file))
    tensors = load_tensors(archive.read("tensors.safetensors"))
    name = "0.module_.energy_head.input_projection.weight"
    tensors[name] = torch.zeros(tensors[name].shape[0], tensors[name].shape[1] + 1)
    with pytest.raises(ModelFormatError, match=r"'energy_head.input_projection.weight' has shape "
                                               r"\(8, 33\).*needs \(8, 32\)"):
        load_bytes(rewritten(model_file, tensors_dot_safetensors=save_tensors(tensors)))


def _set(*path, value):
    """An edit that sets the manifest entry at ``path`` to ``value``."""
    def edit(manifest):
        entry = manifest
        for key in path[:-1]:
            entry = entry[key]
        entry[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("format_version", value=str(FORMAT_VERSION)),
     f"format version '{FORMAT_VERSION}', which is not an"),
    (_set("model", "params", "n_components", value="four"), "n_components"),
    (_set("model", "state", "hidden_size_", value="8"), "of type str; it must be of type int"),
    (_set("model", "state", "_target_scaler", value=3), "_target_scaler is 3"),
    (_set("model", "network", "target_dim", value=1.0), "field 'target_dim' is 1.0"),
    (_set("model", "state", "_input_bin_edges", 0, "tensor", value=7), "field 'tensor' is 7"),
    (_set("model", "state", "history_", value={"epoch": 1}), "is not a value skebm writes"),
    (_set("model", "class", "qualname", value=["EnergyRegressor"]), "field 'qualname'"),
], ids=["version", "parameter", "fitted", "object", "network", "tensor-key", "untagged",
        "class"])
def test_a_field_of_the_wrong_type_is_refused_by_name(model_file, edit, message):
    with pytest.raises(ModelFormatError, match=message):
        load_bytes(rewritten(model_file, edit))


def test_a_network_that_the_architecture_cannot_build_is_refused(model_file):
    with pytest.raises(ModelFormatError, match="cannot be rebuilt from the recorded architecture"):
        load_bytes(rewritten(model_file, _set("model", "network", "absent", value=["nothing"])))


# ====================================================================== versions
@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, OLDEST_FILE_FORMAT - 1])
def test_a_file_of_another_format_version_names_both_versions(model_file, version):
    with pytest.raises(ModelFormatError, match=rf"version {version}.*skebm \S+ reads versions "
                                               rf"{OLDEST_FILE_FORMAT} to {FORMAT_VERSION}"):
        load_bytes(rewritten(model_file, _set("format_version", value=version)))


# ====================================================================== code in files
class Marker:
    """Unpickling this creates ``path``: what a malicious pickle would do, harmlessly."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.fixture
def payload(tmp_path):
    """(pickle bytes that create a marker file when unpickled, the marker's path)."""
    marker = tmp_path / "code-ran"
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Marker(proof))).close()
    assert proof.exists()  # the payload is live
    return pickle.dumps(Marker(marker)), marker


def test_files_carrying_pickles_are_refused_and_nothing_runs(model_file, payload):
    code, marker = payload
    checkpoint = io.BytesIO()
    torch.save({"weights": Marker(marker)}, checkpoint)  # a zip archive holding a pickle
    crafted = {
        "pickle": code,
        "torch-checkpoint": checkpoint.getvalue(),
        "pickle-as-tensors": rewritten(model_file, tensors_dot_safetensors=code),
        "pickle-as-manifest": rewritten(model_file, manifest_dot_json=code),
    }
    for name, data in crafted.items():
        with pytest.raises(ModelFormatError):
            load_bytes(data)
        assert not marker.exists(), name


def test_a_skops_member_replaced_by_a_pickle_is_refused_and_nothing_runs(payload):
    pytest.importorskip("skops")
    code, marker = payload
    X, y = linear_data()
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("model", tiny_estimators()["distilled"](device="cpu"))]).fit(X, y)
    file = io.BytesIO()
    save(pipeline, file)
    members = zipfile.ZipFile(io.BytesIO(file.getvalue())).namelist()
    skops_member = next(name for name in members if name.endswith(".skops"))
    with pytest.raises(ModelFormatError, match="cannot be read"):
        load_bytes(rewritten(file.getvalue(), **{skops_member.replace("/", "__")
                                                 .replace(".", "_dot_"): code}))
    assert not marker.exists()


def test_a_file_naming_untrusted_code_imports_nothing(model_file, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "skebm_test_trap.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Regressor:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, qualname in [("skebm_test_trap", "Regressor"), ("os", "system")]:
        edit = _set("model", "class", value={"module": module, "qualname": qualname})
        with pytest.raises(UntrustedTypeError, match=rf"{module}.{qualname}, which is not part "
                                                     "of skebm.*trusted="):
            load_bytes(rewritten(model_file, edit))
    assert not marker.exists()
    assert "skebm_test_trap" not in sys.modules


def test_trusted_code_that_is_not_an_estimator_is_refused(model_file):
    edit = _set("model", "class", value={"module": "collections", "qualname": "OrderedDict"})
    with pytest.raises(ModelFormatError, match="is not an estimator skebm.load rebuilds"):
        load_bytes(rewritten(model_file, edit), trusted=["collections.OrderedDict"])
