# Two entry points for a fresh machine: `make quickstart` and `make test`.
# Each creates (once) a local virtual environment in .venv and installs skebm into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skebm-installed

.PHONY: quickstart test test-all lint clean figure examples docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -e ".[test,plot]"
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/python examples/quickstart.py

# The README's figure, from the quickstart with its full settings.
figure: $(STAMP)
	$(BIN)/python examples/quickstart.py --output docs/quickstart.png

# Every example with its fast settings (what tests/test_examples.py runs).
examples: $(STAMP)
	for script in examples/*.py; do SKEBM_EXAMPLE_FAST=1 $(BIN)/python $$script || exit 1; done

test: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest -q

test-all: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m pytest -q -m "slow or not slow"

# The documentation, offline, warnings as errors; the gallery runs the examples'
# fast settings (SKEBM_EXAMPLE_FAST=0 make docs runs them in full).
DOCS_STAMP := $(VENV)/.skebm-docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m sphinx -b html -W --keep-going -n -q docs docs/_build/html

lint: $(STAMP)
	$(BIN)/ruff check skebm tests examples benchmarks

clean:
	rm -rf $(VENV) .pytest_cache docs/_build docs/api docs/auto_examples
