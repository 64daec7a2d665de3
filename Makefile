# renraku: `make demo` runs the seed scenario on embedded defaults; `make test` runs every test.
# Targets create .venv themselves, so a fresh clone needs nothing else.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint format services browser bench clean docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/renraku demo

services:
	@bash scripts/ensure-services

docs: $(STAMP)
	$(BIN)/python -m renraku.cli.docgen

browser:
	@bash scripts/ensure-browser

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: $(STAMP) services browser lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP) services
	$(BIN)/python bench/import_bench.py --rows 200000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out renraku.db*
