# Two commands do everything from a fresh clone: `make demo` and `make test`.
# Each bootstraps .venv inside the clone with nothing but python3 and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fabhub-installed
DEMO_INSTANCE ?= instance-demo

.PHONY: demo test lint venv clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/fabhub --instance $(DEMO_INSTANCE) demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO_INSTANCE) test-output .pytest_cache .ruff_cache
