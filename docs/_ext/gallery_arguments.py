"""Command-line arguments of the gallery's scripts (sphinx-gallery's ``reset_argv``).

A module-level callable, named in ``conf.py`` by its dotted path, so that the
Sphinx configuration stays picklable.
"""

from __future__ import annotations

from pathlib import Path

BUILD = Path(__file__).resolve().parents[1] / "_build"


def reset_argv(gallery_conf: dict, script_vars: dict) -> list[str]:
    """Send the quickstart's figure file to the build folder, out of ``examples/``."""
    if Path(script_vars["src_file"]).name == "quickstart.py":
        return ["--output", str(BUILD / "quickstart-gallery.png")]
    return []
