"""The container of a skebm model file: a zip archive of a JSON manifest and safetensors.

::

    manifest.json         {"format": "skebm.model", "format_version": 3,
                           "skebm_version": "0.2.0", "model": {...}}
    tensors.safetensors   every array and tensor, by the keys the manifest names
    objects/<n>.skops     scikit-learn objects written by skops.io (if any)

The archive is written with fixed timestamps, so saving one model twice gives
the same bytes. Reading checks the archive (zip CRCs), the format name and
version before anything else is looked at.
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
import zlib

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from skebm._migrations import FORMAT_VERSION, OLDEST_FILE_FORMAT, check_version
from skebm.exceptions import ModelFormatError

__all__ = ["MAGIC", "read_archive", "write_archive"]

MAGIC = "skebm.model"
"""The ``format`` of a skebm model file's manifest."""
_MANIFEST = "manifest.json"
_TENSORS = "tensors.safetensors"
_OBJECTS = "objects/"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp


def write_archive(file, model: dict, tensors: dict[str, torch.Tensor],
                  blobs: dict[str, bytes]) -> None:
    """Write a model file to ``file`` (a path, replaced whole, or a binary file object)."""
    from skebm import __version__

    manifest = {"format": MAGIC, "format_version": FORMAT_VERSION,
                "skebm_version": __version__, "model": model}
    members = {_MANIFEST: json.dumps(manifest, indent=1, allow_nan=False).encode(),
               _TENSORS: save_tensors(tensors), **blobs}
    if hasattr(file, "write"):
        _write_zip(file, members)
        return
    path = os.fspath(file)
    # A temporary file in the same folder, renamed at the end: a failed save leaves the
    # previous file (if any) as it was, never a partial one.
    temporary = f"{path}.{os.getpid()}-{threading.get_ident()}.partial"
    try:
        with open(temporary, "xb") as stream:
            _write_zip(stream, members)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _write_zip(stream, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(stream, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def read_archive(file) -> tuple[dict, int, dict[str, torch.Tensor], dict[str, bytes]]:
    """The model tree, format version, tensors and skops blobs of a model file.

    Raises
    ------
    ModelFormatError
        If ``file`` is not a complete skebm model file of a version this
        skebm reads.
    """
    name = _describe(file)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if _MANIFEST not in names or _TENSORS not in names:
                raise ModelFormatError(f"{name} is not a skebm model file: it is a zip archive "
                                       f"without {_MANIFEST} and {_TENSORS}.")
            manifest = _manifest(archive.read(_MANIFEST), name)
            version = _version(manifest, name)
            tensors = load_tensors(archive.read(_TENSORS))
            blobs = {member: archive.read(member) for member in names
                     if member.startswith(_OBJECTS)}
    except ModelFormatError:
        raise
    except SafetensorError as error:
        raise ModelFormatError(f"{name}: its tensors cannot be read: {error}") from error
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError,
            NotImplementedError) as error:
        raise ModelFormatError(
            f"{name} is not a skebm model file, or it is truncated or corrupted: {error}"
        ) from error
    return manifest["model"], version, tensors, blobs


def _manifest(data: bytes, name: str) -> dict:
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    try:
        manifest = json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFormatError(f"{name}: its manifest is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MAGIC:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ModelFormatError(
            f"{name} is not a skebm model file: its manifest names the format {found!r}, "
            f"not {MAGIC!r}.")
    if not isinstance(manifest.get("model"), dict):
        raise ModelFormatError(f"{name}: its manifest holds no model.")
    return manifest


def _version(manifest: dict, name: str) -> int:
    written_by = manifest.get("skebm_version")
    try:
        what = "file" if name == "the file" else f"file {name}"
        return check_version(manifest.get("format_version"), what,
                             OLDEST_FILE_FORMAT,
                             written_by if isinstance(written_by, str) else "")
    except ValueError as error:
        raise ModelFormatError(str(error)) from None


def _describe(file) -> str:
    if isinstance(file, (str, os.PathLike)):
        return repr(os.fspath(file))
    return "the file"
