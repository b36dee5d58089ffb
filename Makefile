# The README's commands. `.ci/run` calls `make test`; nothing here is CI-only.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test-tools run test lint typecheck pytest install-check bench bench-quick clean

# One virtualenv with the package (editable) and its dev tools; rebuilt when pyproject changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

## What the tests run besides Python packages, installed once when missing: Debian's prometheus
## (the /metrics scrape test; when apt-get is there) and the OpenTelemetry JS SDK's exporter
## (tests/otlp_js, from its lock file; when npm is there).
test-tools: tests/otlp_js/node_modules/.installed
	@command -v prometheus >/dev/null || ! command -v apt-get >/dev/null || \
	  apt-get install -y -q --no-install-recommends prometheus >/dev/null || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; }

tests/otlp_js/node_modules/.installed: tests/otlp_js/package-lock.json
	@! command -v npm >/dev/null || \
	  { npm ci --prefix tests/otlp_js --no-audit --no-fund --loglevel=error && touch $@; }

## Set up, then serve on the embedded default (SQLite log + chDB under ./.runledger).
run: setup
	$(BIN)/runledger serve

## Set up, then lint, type-check, run every test, and check the built wheel as a user installs it.
test: setup lint typecheck pytest install-check

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup test-tools
	$(BIN)/python -m pytest

## Build the sdist and wheel, install the wheel in a fresh virtualenv, serve and use it.
install-check: setup
	PYTHON=$(PYTHON) bash .ci/install-check

## Every benchmark beside its ceiling and peer, and the goals table (bench/README.md): < 15 min.
bench: setup
	$(BIN)/python -m bench

## The same at small sizes, for CI: fails only when a path is broken, never on a ratio.
bench-quick: setup
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache tests/otlp_js/node_modules
