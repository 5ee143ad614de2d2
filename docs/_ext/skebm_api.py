"""The API reference, generated from the ``__all__`` of every public skebm module.

A module is public when no part of its dotted name starts with an underscore.
The reference has one page per top-level public module or package (``skebm``,
``skebm.metrics``, ``skebm.nn``, ...) listing the names in its ``__all__``, and
one page per public name. Submodules of a public package (``skebm.nn.conv``)
get no page of their own: what they export must be exported by their package,
which :func:`undocumented_names` checks (``tests/test_docstrings.py`` runs it).

Each class page documents the public methods and properties that skebm itself
defines; the ones inherited from scikit-learn or PyTorch (``get_params``,
``to``, ...) are named in a sentence instead, with their documentation left to
those projects. :func:`public_objects` yields the same objects, which the
numpydoc validation test checks.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "skebm"

# Reference pages in this order; public modules not named here follow alphabetically.
PAGE_ORDER = [
    "skebm",
    "skebm.distributions",
    "skebm.metrics",
    "skebm.calibration",
    "skebm.ensemble",
    "skebm.plotting",
    "skebm.pipeline",
    "skebm.datasets",
    "skebm.exceptions",
    "skebm.objectives",
    "skebm.losses",
    "skebm.nn",
]
_MAX_LISTED_INHERITED = 8  # more inherited methods are summed up by their base class
PAGE_TITLES = {
    "skebm": "Estimators",
    "skebm.distributions": "Predicted distributions",
    "skebm.metrics": "Metrics and scorers",
    "skebm.calibration": "Calibration",
    "skebm.ensemble": "Ensembles",
    "skebm.plotting": "Plotting",
    "skebm.pipeline": "Pipelines",
    "skebm.datasets": "Data sets",
    "skebm.exceptions": "Exceptions and warnings",
    "skebm.objectives": "Training objectives",
    "skebm.losses": "Loss terms",
    "skebm.nn": "PyTorch building blocks",
}


@dataclass(frozen=True)
class Entry:
    """One public name of a reference page."""

    module: str
    name: str
    obj: object

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def kind(self) -> str:
        if inspect.isclass(self.obj):
            return "exception" if issubclass(self.obj, BaseException) else "class"
        if inspect.isroutine(self.obj):
            return "function"
        return "data"  # e.g. the scorer objects of skebm.metrics


def missing_dependency(module_name: str) -> str | None:
    """The optional package a public module needs but cannot import, if any."""
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] != PACKAGE:
            return error.name
        raise
    return None


def _public_submodules() -> list[str]:
    package = importlib.import_module(PACKAGE)
    return [info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}.",
                                                        onerror=lambda name: None)
            if not any(part.startswith("_") for part in info.name.split("."))]


def public_module_names() -> list[str]:
    """Every public module of the package, the package itself first.

    A module that needs an optional dependency which is not installed is left
    out (see :func:`modules_missing_dependencies`): the docs build warns about
    it, so that ``make docs`` fails until the ``docs`` extra installs it.
    """
    return [PACKAGE] + [name for name in _public_submodules()
                        if missing_dependency(name) is None]


def modules_missing_dependencies() -> dict[str, str]:
    """Public modules that cannot be imported here, with the package each needs."""
    missing = {name: missing_dependency(name) for name in _public_submodules()}
    return {name: package for name, package in missing.items() if package is not None}


def page_module_names() -> list[str]:
    """Modules with a reference page: the package and its direct public children."""
    pages = [name for name in public_module_names() if name.count(".") <= 1]
    ordered = [name for name in PAGE_ORDER if name in pages]
    return ordered + sorted(name for name in pages if name not in ordered)


def exported(module_name: str) -> list[Entry]:
    """The entries of a module's ``__all__``, in order (dunder names excluded)."""
    module = importlib.import_module(module_name)
    if not hasattr(module, "__all__"):
        raise AttributeError(f"public module {module_name} has no __all__")
    return [Entry(module_name, name, getattr(module, name))
            for name in module.__all__ if not name.startswith("__")]


def page_entries() -> dict[str, list[Entry]]:
    """The entries of every reference page, by module."""
    return {name: exported(name) for name in page_module_names()}


def undocumented_names() -> list[str]:
    """Public names exported by some public module but documented on no page."""
    documented = {id(entry.obj) for entries in page_entries().values() for entry in entries}
    return [entry.qualname for name in public_module_names() for entry in exported(name)
            if id(entry.obj) not in documented]


def defined_here(obj: object) -> bool:
    """Whether an object is defined in this package (not re-exported from elsewhere)."""
    return (getattr(obj, "__module__", None) or "").split(".")[0] == PACKAGE


def class_members(cls: type) -> tuple[list[str], list[str]]:
    """Public members of a class: (defined in skebm, inherited from elsewhere).

    Members defined by a skebm class anywhere in the method resolution order are
    documented; the rest (scikit-learn's ``get_params``, PyTorch's ``to``) are
    only named. A function that a third-party base class puts into a skebm
    class's ``__dict__`` (skpro's ``BaseDistribution`` copies its ``pdf``,
    ``cdf``, ... into every subclass) is theirs too: what counts is the module
    of the function itself, not of the class holding it.
    """
    own, inherited = [], []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((base for base in cls.__mro__ if name in vars(base)), None)
        if owner is None:  # e.g. an annotation-only field of a data class
            continue
        value = vars(owner)[name]
        if not (callable(value) or isinstance(value, (property, classmethod, staticmethod))):
            continue
        (own if defined_here(owner) and defined_here(_function(value)) else
         inherited).append(name)
    return own, inherited


def _function(member: object) -> object:
    """The function behind a class member (unwrapping class/static methods and properties)."""
    if isinstance(member, (classmethod, staticmethod)):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member


def public_objects() -> Iterator[tuple[str, object]]:
    """``(qualified name, object)`` of every documented function, class and method."""
    for entries in page_entries().values():
        for entry in entries:
            if entry.kind == "data" or not defined_here(entry.obj):  # data: no signature
                continue
            yield entry.qualname, entry.obj
            if inspect.isclass(entry.obj):
                for member in class_members(entry.obj)[0]:
                    yield f"{entry.qualname}.{member}", getattr(entry.obj, member)


# ------------------------------------------------------------------ page writing
def _title(text: str, underline: str = "=") -> str:
    return f"{text}\n{underline * len(text)}\n"


def _object_page(entry: Entry) -> str:
    # The short name as title keeps titles and the navigation readable; the
    # signature below shows the full dotted path.
    lines = [_title(entry.name), f".. currentmodule:: {entry.module}\n"]
    if entry.kind == "function":
        lines.append(f".. autofunction:: {entry.name}\n")
    elif entry.kind in ("class", "exception"):
        directive = "autoexception" if entry.kind == "exception" else "autoclass"
        own, inherited = class_members(entry.obj) if defined_here(entry.obj) else ([], [])
        lines.append(f".. {directive}:: {entry.name}")
        if own:
            lines.append(f"   :members: {', '.join(own)}")
        lines.append("")
        origin = next((base for base in entry.obj.__mro__[1:] if not defined_here(base)),
                      None)
        if inherited and origin is not None and origin.__module__ != "builtins":
            project = origin.__module__.split(".")[0]
            if len(inherited) <= _MAX_LISTED_INHERITED:
                names = ", ".join(f"``{name}``" for name in inherited)
                lines.append(f"Also has the methods {names}, inherited from {project} "
                             "and documented there.\n")
            else:
                lines.append(f"Also has the methods of ``{origin.__module__}.{origin.__name__}``"
                             f", documented by {project}.\n")
    else:
        lines.append(f".. autodata:: {entry.name}\n   :no-value:\n")
    lines.append(f".. minigallery:: {entry.qualname}\n   :add-heading:\n")
    return "\n".join(lines)


def _module_page(module_name: str, entries: list[Entry]) -> str:
    title = PAGE_TITLES.get(module_name, module_name)
    lines = [_title(f"{title}: ``{module_name}``"),
             f".. automodule:: {module_name}\n   :no-members:\n",
             f".. currentmodule:: {module_name}\n"]
    if entries:
        lines.append(".. autosummary::\n   :nosignatures:\n")
        lines += [f"   {entry.name}" for entry in entries]
        lines.append("\n.. toctree::\n   :hidden:\n")
        lines += [f"   generated/{entry.qualname}" for entry in entries]
        lines.append("")
    return "\n".join(lines)


def _index_page(pages: dict[str, list[Entry]]) -> str:
    lines = [
        _title("API reference"),
        "Every public name of skebm, by module. The estimators are imported from",
        "``skebm`` itself; everything else from its submodule. This reference is",
        "generated from the docstrings and the modules' ``__all__``.\n",
        ".. toctree::\n   :hidden:\n",
    ]
    lines += [f"   {name}" for name in pages]
    lines.append("")
    for module_name, entries in pages.items():
        title = PAGE_TITLES.get(module_name, module_name)
        lines += [_title(f"{title}: :mod:`{module_name}`", "-"),
                  f".. currentmodule:: {module_name}\n",
                  ".. autosummary::\n   :nosignatures:\n"]
        lines += [f"   {entry.name}" for entry in entries]
        lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    """Write only when changed, so that Sphinx does not rebuild unchanged pages."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(directory: Path) -> None:
    """Write ``index.rst``, one page per module and one per object under ``directory``."""
    generated = directory / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    pages = page_entries()
    written = {directory / "index.rst"}
    _write(directory / "index.rst", _index_page(pages))
    for module_name, entries in pages.items():
        written.add(directory / f"{module_name}.rst")
        _write(directory / f"{module_name}.rst", _module_page(module_name, entries))
        for entry in entries:
            written.add(generated / f"{entry.qualname}.rst")
            _write(generated / f"{entry.qualname}.rst", _object_page(entry))
    existing = set(directory.glob("*.rst")) | set(generated.glob("*.rst"))
    for stale in existing - written:  # names no longer public
        stale.unlink()


def setup(app) -> dict:
    """Sphinx extension entry point: generate the pages before reading sources."""

    def generate(app) -> None:
        from sphinx.util import logging

        for module, dependency in modules_missing_dependencies().items():
            logging.getLogger(__name__).warning(
                f"{module} is left out of the API reference: it needs {dependency}, which is "
                "not installed; add it to the docs extra in pyproject.toml")
        write_api_pages(Path(app.srcdir) / "api")

    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
