"""Every ```python snippet of the README and the user guide runs.

The snippets of one file run in order in one namespace, as a reader would paste
them. Conventions, so that new snippets are picked up without editing this file:

* Every fenced block that opens with ```python is run; use ```text, ```bash or
  ```pycon for code that must not run.
* Training is shrunk for the test: while the snippets run, every skebm
  estimator (meta-estimators included) is built with the small settings of
  ``SMALL_SETTINGS`` and the integer parameters of ``SMALL_CAPS`` lowered to
  at most their cap (only the parameters it has; a cross-validation splitter
  object is kept), and ``gustafsson2020_kl`` uses a coarse grid. Write
  snippets with realistic settings; they still run in seconds here.
* Text that cannot run here (a remote scheduler's address) is replaced as
  listed in ``SUBSTITUTIONS``; a substitution whose text no longer appears in
  its file fails the test, so the list cannot go stale.
* A block that imports an optional package (``OPTIONAL_PACKAGES``, directly
  or through the skebm module of that name, such as ``skebm.skpro``) and the
  blocks after it run only when that package is installed: the blocks before
  it always run, and the test is then skipped, naming the package.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import pytest
from helpers import skebm_estimator_classes

import skebm.metrics

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted(path for path in (ROOT / "docs").glob("**/*.md")
                                          if "_build" not in path.parts)]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```",
                   re.DOTALL | re.MULTILINE)
OPTIONAL_PACKAGES = ("ray", "dask", "distributed", "skpro")

SMALL_SETTINGS = dict(max_epochs=2, n_noise_samples=16, hidden_size=16,
                      n_inference_samples=64)
SMALL_CAPS = dict(cv=3, n_estimators=2)
SUBSTITUTIONS: dict[str, dict[str, str]] = {}  # file name -> {text: replacement}


def snippets(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, dedented, after substitution."""
    text = path.read_text(encoding="utf-8")
    for old, new in SUBSTITUTIONS.get(path.name, {}).items():
        assert old in text, f"substitution {old!r} no longer matches {path.name}; update it"
        text = text.replace(old, new)
    blocks = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        blocks.append("".join(line[indent:] for line in match["code"].splitlines(True)))
    return blocks


def needs(code: str, package: str) -> bool:
    return re.search(rf"^\s*(from|import) (skebm\.)?{package}\b", code, re.MULTILINE) is not None


def missing_optional_package(code: str) -> str | None:
    for package in OPTIONAL_PACKAGES:
        if needs(code, package) and importlib.util.find_spec(package) is None:
            return package
    return None


def shrink(estimator) -> None:
    """Set ``SMALL_SETTINGS`` and lower to ``SMALL_CAPS`` the parameters the estimator has."""
    for name, value in SMALL_SETTINGS.items():
        if hasattr(estimator, name):
            setattr(estimator, name, value)
    for name, cap in SMALL_CAPS.items():
        value = getattr(estimator, name, None)
        if isinstance(value, int) and value > cap:
            setattr(estimator, name, cap)


@pytest.fixture
def small_training(monkeypatch):
    """Give every estimator built while the snippets run the small settings.

    The settings are set at construction, so they travel with the estimator to
    wherever it is fitted: threads, and the worker processes of ray or loky.
    """
    for cls in skebm_estimator_classes():
        if "__init__" not in vars(cls):
            continue

        @functools.wraps(cls.__init__)
        def small_init(self, *args, __init=cls.__init__, **kwargs):
            __init(self, *args, **kwargs)
            shrink(self)

        monkeypatch.setattr(cls, "__init__", small_init)
    kl = skebm.metrics.gustafsson2020_kl
    monkeypatch.setattr(skebm.metrics, "gustafsson2020_kl",
                        lambda estimator, n_grid=2048: kl(estimator, n_grid=min(n_grid, 64)))


def run_snippets(path: Path, blocks: list[str]) -> None:
    namespace: dict = {"__name__": "__snippet__"}
    try:
        for number, code in enumerate(blocks, start=1):
            try:
                exec(compile(code, f"{path.name}:snippet{number}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(f"snippet {number} of {path.name} failed:\n{code}") from error
    finally:
        for value in namespace.values():  # dask clients and clusters the snippets started
            if type(value).__name__ in ("Client", "LocalCluster"):
                value.close()


WITH_SNIPPETS = [path for path in DOCUMENTS if snippets(path)]


def test_small_training_shrinks_estimators_and_meta_estimators(small_training):
    from sklearn.model_selection import KFold

    from skebm import EnergyRegressor
    from skebm.calibration import RecalibratedRegressor

    model = RecalibratedRegressor(EnergyRegressor(max_epochs=500), cv=10)
    assert model.cv == SMALL_CAPS["cv"]
    assert model.estimator.max_epochs == SMALL_SETTINGS["max_epochs"]
    assert RecalibratedRegressor(EnergyRegressor(), cv=KFold(5)).cv.n_splits == 5


def test_the_documents_have_snippets():
    assert len(snippets(ROOT / "README.md")) >= 3
    assert sum(len(snippets(path)) for path in DOCUMENTS) >= 10


@pytest.mark.parametrize("path", WITH_SNIPPETS, ids=lambda path: str(path.relative_to(ROOT)))
def test_python_snippets_run(path, small_training, tmp_path, monkeypatch):
    """All snippets, or all up to the first that needs an optional package that is missing."""
    monkeypatch.chdir(tmp_path)  # snippets that save files save them here
    blocks = snippets(path)
    missing = next(((number, package) for number, code in enumerate(blocks)
                    if (package := missing_optional_package(code))), None)
    run_snippets(path, blocks[:missing[0]] if missing else blocks)
    if missing:
        pytest.skip(f"{path.name}: {missing[0]} of {len(blocks)} snippets ran; snippet "
                    f"{missing[0] + 1} needs {missing[1]}, which is not installed")
