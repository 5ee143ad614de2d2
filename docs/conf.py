"""Sphinx configuration of the skebm documentation (``make docs``).

The build is offline (no intersphinx): references to other projects' objects
are written as literals, and the few that autodoc produces are ignored below.
The gallery runs every script in ``examples/`` with its fast settings
(``SKEBM_EXAMPLE_FAST=1``, set here unless already set: ``SKEBM_EXAMPLE_FAST=0
make docs`` runs them in full, which takes much longer).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

os.environ.setdefault("SKEBM_EXAMPLE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import skebm  # noqa: E402

project = "skebm"
author = "skebm developers"
copyright = "2026, skebm developers"
version = release = skebm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served with the pages: they render offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "skebm_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "**/*.codeobj.json"]
templates_path: list[str] = []

# ----------------------------------------------------------------- warnings
nitpicky = True
# Offline build: names of other projects cannot be resolved without intersphinx.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|scipy|sklearn|pandas|matplotlib|joblib|dask|distributed)"
               r"(\..*)?"),
    (r"py:.*", r"(Tensor|Module|Generator|ndarray|Axes|RandomState|NotFittedError)"),
]

# ----------------------------------------------------------------- autodoc, numpydoc
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_member_order = "bysource"
autosummary_generate = False  # skebm_api writes the pages
numpydoc_show_class_members = False  # skebm_api lists the members
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # tests/test_docstrings.py validates

# ----------------------------------------------------------------- MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# ----------------------------------------------------------------- gallery

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example
    "reset_argv": "skebm_gallery.reset_argv",
    "within_subsection_order": "skebm_gallery.ExampleOrder",
    "doc_module": ("skebm",),
    "backreferences_dir": "api/backreferences",
    "reference_url": {"skebm": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_signature": False,
    "matplotlib_animations": False,
}

# ----------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"skebm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["skebm.css"]
# Pages without sub-pages need no section navigation.
html_sidebars = {page: [] for page in ("index", "install", "benchmarks", "changelog")}
toc_object_entries_show_parents = "hide"  # "fit()", not "EnergyRegressor.fit()"
