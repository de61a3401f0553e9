# Two commands do everything from a fresh clone: `make demo` and `make test`.
# Each bootstraps .venv inside the clone with nothing but python3 and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fabhub-installed
DEMO_INSTANCE ?= instance-demo
# OctoPrint pins an older Flask, so it gets a virtual environment of its own: its
# Virtual Printer is a second Marlin peer for the driver tests, its analyser and
# server are peers for the benchmarks and the OctoPrint integration tests.
OCTOPRINT_VENV := .venv-octoprint
OCTOPRINT_STAMP := $(OCTOPRINT_VENV)/.installed
OCTOPRINT_SPEC ?= octoprint==1.11.*
# Benchmarks run fabhub beside its peers (Printrun's printcore) in their own environment.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

# The browser tests drive Debian's Chromium (Playwright's own download does not work offline).
CHROMIUM := /usr/bin/chromium

export FABHUB_OCTOPRINT_PYTHON := $(abspath $(OCTOPRINT_VENV))/bin/python

.PHONY: demo test lint venv octoprint-venv bench-venv chromium clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(STAMP)

$(OCTOPRINT_STAMP):
	$(PYTHON) -m venv $(OCTOPRINT_VENV)
	$(OCTOPRINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(OCTOPRINT_SPEC)'
	touch $@

octoprint-venv: $(OCTOPRINT_STAMP)

$(BENCH_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		printrun pyserial platformdirs puremagic
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'pymerkle>=7,<8'
	touch $@

bench-venv: $(BENCH_STAMP) $(OCTOPRINT_STAMP)

$(CHROMIUM):
	apt-get update
	apt-get install -y chromium

chromium: $(CHROMIUM)

demo: $(STAMP)
	$(BIN)/fabhub --instance $(DEMO_INSTANCE) demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) $(OCTOPRINT_STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(OCTOPRINT_VENV) $(BENCH_VENV) $(DEMO_INSTANCE) test-output .pytest_cache .ruff_cache
