# Two commands on a fresh machine: `make demo` (local end-to-end demo), `make test` (all tests).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export ATTACHE_SYNAPSE_VENV ?= $(CURDIR)/.cache/synapse-venv
# The image: scripts/container-build.sh builds it with docker or podman on the real base;
# only without a registry (as in this project's CI) on a stand-in made by the smoke script
# beside the clone (../shared/tools/container-smoke.sh, or CONTAINER_SMOKE=path).
CONTAINER_WORK ?= /tmp/container-smoke
IMAGE ?= localhost/attache-bot:ci

.PHONY: test check unit integration lint bytecode demo soak bench clean container-test image docs postgresql prometheus catalogues federation-outage

# Translations: the compiled catalogues (.mo) are built from the .po files in git.
# `make catalogues` re-extracts the marked strings and merges them into every .po.
MO := $(patsubst %.po,%.mo,$(wildcard commands/locales/*/LC_MESSAGES/messages.po))
%.mo: %.po $(BIN)/.installed
	$(BIN)/pybabel compile -i $< -o $@ -l $(word 3,$(subst /, ,$<))

catalogues: $(BIN)/.installed
	$(BIN)/python scripts/catalogues.py update
	$(BIN)/python scripts/catalogues.py compile
	$(BIN)/python scripts/catalogues.py check

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot commands config
	$(BIN)/lint-imports --cache-dir .cache/import-linter  # the layers: [tool.importlinter] in pyproject.toml
	$(BIN)/hadolint Dockerfile

# Bytecode, as Python keeps it by default (and the image has it): the bot's modules, the
# harness's and the benches' compiled once here (an editable install does not compile them),
# and pytest's assertion-rewritten test modules cached in __pycache__. Every test worker and
# every bot process the tests start loads ~210 of our modules; with PYTHONDONTWRITEBYTECODE
# set (as on these machines) each compiled them again and pytest rewrote every test module
# at each collection: ~13 s of make check (docs/bench/suite.md). compileall skips what is up
# to date; PYTEST runs with the variable cleared, so only test runs write their cache.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

bytecode: $(BIN)/.installed
	@$(BIN)/python -m compileall -q bot commands config tests bench scripts >/dev/null

# The suite starts its own PostgreSQL (tests/harness/postgres.py) from Debian's package.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL (Debian package postgresql)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends postgresql; }

# promtool checks and unit-tests deploy/prometheus/alerts.yml (tests/unit/test_monitoring.py).
prometheus:
	@command -v promtool >/dev/null 2>&1 || ls /usr/bin/promtool >/dev/null 2>&1 || { \
		echo "installing promtool (Debian package prometheus)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends prometheus; }

# Tests run in parallel workers (pytest-xdist), each with its own Synapse and PostgreSQL
# (tests/conftest.py); much of a worker's time is waiting on them, so more workers than
# cores pay; the unit tests are CPU-bound and get one per core (UNIT_WORKERS). How tests
# are handed out is in tests/conftest.py (pytest_configure). TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 4
UNIT_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS)

test: $(BIN)/.installed postgresql prometheus lint bytecode $(MO)
	$(PYTEST) -q -ra --durations=15 $(PYTEST_PARALLEL)

# The fast lane for the edit-test loop: lint and the unit tests, every one of them; the
# property test that throws arbitrary input at every command runs 60 examples per language
# here and 250 in `make test` (ATTACHE_FUZZ_EXAMPLES). Lint runs beside the unit tests, on
# the share of the cores they leave idle (docs/bench/suite.md); its output follows theirs,
# and either failing fails the target.
FUZZ_EXAMPLES ?= 60
check: $(BIN)/.installed postgresql prometheus bytecode $(MO)
	@lint_log=$$(mktemp); \
	$(MAKE) --no-print-directory lint >"$$lint_log" 2>&1 & lint_pid=$$!; \
	echo "ATTACHE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PYTEST) -q -ra tests/unit -n $(UNIT_WORKERS)"; \
	ATTACHE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PYTEST) -q -ra tests/unit -n $(UNIT_WORKERS); \
	tests=$$?; wait $$lint_pid; linted=$$?; \
	echo "--- make lint"; cat "$$lint_log"; rm -f "$$lint_log"; \
	[ $$linted -eq 0 ] || echo "make check: lint failed"; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

unit: $(BIN)/.installed postgresql prometheus bytecode $(MO)
	$(PYTEST) -q tests/unit -n $(UNIT_WORKERS)

integration: $(BIN)/.installed postgresql bytecode $(MO)
	$(PYTEST) -q -m integration $(PYTEST_PARALLEL)

# Build the image with its OCI labels (version from pyproject.toml, commit, source, licenses).
image:
	CONTAINER_WORK=$(CONTAINER_WORK) IMAGE=$(IMAGE) bash scripts/container-build.sh

# Build the image, then run it for real: its shape and labels, check-config on the example
# config with secrets as files, and an encrypted !ping answered by the containerised bot.
# Needs docker, or podman as root; not part of `make test`.
container-test: $(BIN)/.installed
	$(BIN)/hadolint Dockerfile
	CONTAINER_WORK=$(CONTAINER_WORK) IMAGE=$(IMAGE) bash scripts/container-build.sh
	ATTACHE_IMAGE=$(IMAGE) CONTAINER_WORK=$(CONTAINER_WORK) $(PYTEST) -q -ra tests/container

docs: $(BIN)/.installed
	$(BIN)/python scripts/settings_reference.py

# Longer reliability run, not in CI: 10 kills, 60 s outage, 50 replies at default rate
# limits, 10,000 hostile-input examples per property, 3 failovers under 300 commands. Figures go to .tmp/soak-figures.jsonl.
soak: $(BIN)/.installed
	mkdir -p .tmp
	ATTACHE_SOAK=1 ATTACHE_FIGURES=$(CURDIR)/.tmp/soak-figures.jsonl \
		$(PYTEST) -q -s -ra --durations=15 tests/reliability

# Long federation outage runs (two Synapses, one frozen for a while), not in `make test`.
federation-outage: $(BIN)/.installed $(MO)
	$(PYTEST) -q -ra tests/integration/outage_federation.py

demo: $(BIN)/.installed $(MO)
	$(BIN)/attache-bot demo

# Benchmarks (not part of `make test` or .ci/run): each script prints a table and writes
# JSON under .cache/bench/. Record the figures in docs/BENCHMARKS.md with date and load.
BENCH_OUT := .cache/bench
bench: $(BIN)/.installed $(MO)
	mkdir -p $(BENCH_OUT)
	PYTHONPATH=. $(BIN)/python bench/roundtrip.py --no-trust-too --store-command "!agenda" --json $(BENCH_OUT)/roundtrip.json
	PYTHONPATH=. $(BIN)/python bench/burst.py --json $(BENCH_OUT)/burst.json
	PYTHONPATH=. $(BIN)/python bench/roundtrip.py --postgresql --json $(BENCH_OUT)/roundtrip-postgresql.json
	PYTHONPATH=. $(BIN)/python bench/burst.py --postgresql --json $(BENCH_OUT)/burst-postgresql.json
	PYTHONPATH=. $(BIN)/python bench/startup.py --json $(BENCH_OUT)/startup.json
	PYTHONPATH=. $(BIN)/python bench/hostile.py --json $(BENCH_OUT)/hostile.json
	PYTHONPATH=. $(BIN)/python bench/scale.py --json $(BENCH_OUT)/scale.json
	PYTHONPATH=. $(BIN)/python bench/federation.py --json $(BENCH_OUT)/federation.json
	PYTHONPATH=. $(BIN)/python bench/memory.py --json $(BENCH_OUT)/memory.json
	for script in bench/bench_*.py; do \
		name=$$(basename $$script .py); \
		PYTHONPATH=. $(BIN)/python $$script --json $(BENCH_OUT)/$${name#bench_}.json || exit 1; \
	done

clean:
	rm -rf $(VENV) .cache .tmp .pytest_cache
