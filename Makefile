# Two entry points for a fresh machine: `make quickstart` and `make test`.
# Each creates (once) a local virtual environment in .venv and installs skebm into it:
# the quickstart with matplotlib only, the tests with their tool chain as well.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUICKSTART_STAMP := $(VENV)/.skebm-quickstart-installed
STAMP := $(VENV)/.skebm-installed

.PHONY: quickstart test test-all lint clean figure examples docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null

$(QUICKSTART_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[plot]"
	touch $(QUICKSTART_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[test,plot]"
	touch $(STAMP)

quickstart: $(QUICKSTART_STAMP)
	$(BIN)/python examples/quickstart.py

# The README's figure, from the quickstart with its full settings.
figure: $(QUICKSTART_STAMP)
	$(BIN)/python examples/quickstart.py --output docs/quickstart.png

# Every example with its fast settings (what tests/test_examples.py runs).
examples: $(STAMP)
	for script in examples/*.py; do SKEBM_EXAMPLE_FAST=1 $(BIN)/python $$script || exit 1; done

# Two pytest workers with one thread each (the tests' fits are small: one torch
# thread is what skebm's n_threads="auto" picks for them), whole files per worker.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

test-all: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "slow or not slow"

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
