"""Release files and version metadata agree (the wheel itself: .ci/check_wheel.sh)."""

import importlib.metadata
import re
from pathlib import Path

import pytest

import skebm

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_is_read_from_the_package():
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "skebm.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", skebm.__version__)


def test_the_installed_metadata_has_the_package_version():
    try:
        installed = importlib.metadata.version("skebm")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("skebm is not installed, only importable")
    if Path(skebm.__file__).resolve().parents[1] != ROOT:
        pytest.skip("the installed skebm is another checkout")
    assert installed == skebm.__version__


def test_the_package_is_marked_typed_and_ships_the_marker():
    assert (ROOT / "skebm" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["skebm"]


def test_the_licence_file_matches_the_declared_licence():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("BSD 3-Clause License")
    assert "skebm developers" in licence


def test_the_changelog_has_an_unreleased_section_and_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.MULTILINE)
    assert skebm.__version__.split(".dev")[0] in released
