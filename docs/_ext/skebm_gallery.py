"""Settings of the example gallery that are code: script arguments and order.

Module-level objects, named in ``conf.py`` by their dotted paths, so that the
Sphinx configuration stays picklable.
"""

from __future__ import annotations

from pathlib import Path

# Gallery order: a first example, then the rest. Scripts not named here follow
# alphabetically.
ORDER = [
    "quickstart.py",
    "gridsearch_sigmas.py",
    "dataframe_pipeline.py",
    "image_regression.py",
    "cross_validation_dask.py",
]


def reset_argv(gallery_conf: dict, script_vars: dict) -> list[str]:
    """Send the quickstart's figure file to the build folder, out of ``examples/``."""
    if Path(script_vars["src_file"]).name == "quickstart.py":
        # Relative to examples/, where the gallery runs the scripts.
        return ["--output", "../docs/_build/quickstart-gallery.png"]
    return []


class ExampleOrder:
    """Sort key of the gallery's scripts (sphinx-gallery's ``within_subsection_order``)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        position = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return position, filename
