# Two commands on a fresh machine: `make demo` (local end-to-end demo), `make test` (all tests).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export ATTACHE_SYNAPSE_VENV ?= $(CURDIR)/.cache/synapse-venv

.PHONY: test unit integration lint demo soak bench clean container-test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy commands config

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest -q -ra --durations=15

unit: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests/unit

integration: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m integration

# Longer reliability run, not in CI: 10 kills, 60 s outage, 50 replies at default rate
# limits, 10,000 hostile-input examples per property. Figures go to .tmp/soak-figures.jsonl.
soak: $(BIN)/.installed
	mkdir -p .tmp
	ATTACHE_SOAK=1 ATTACHE_FIGURES=$(CURDIR)/.tmp/soak-figures.jsonl \
		$(BIN)/python -m pytest -q -s -ra --durations=15 tests/reliability

demo: $(BIN)/.installed
	$(BIN)/attache-bot demo

clean:
	rm -rf $(VENV) .cache .tmp .pytest_cache
