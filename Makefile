# keyturn's one task runner; CI (.ci/run) calls these targets too.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# npm packages for the compatibility tests live outside the repository.
COMPAT_DIR ?= $(HOME)/.cache/keyturn/compat
# Generated requests per operation, token kind and mode for `make fuzz` (make test uses 15).
FUZZ_EXAMPLES ?= 200
# pytest-xdist processes for `make test` (auto: one per core); each starts its own PostgreSQL.
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "keyturn needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(INSTALLED)

.PHONY: install
install: $(INSTALLED) ## Create .venv and install keyturn with its development tools

.PHONY: run
run: install ## Set up and serve on 127.0.0.1:3000 (the embedded SQLite database migrates on start)
	$(BIN)/keyturn serve

.PHONY: demo
demo: install ## Like run, and seed demo data and print tokens and a curl example
	$(BIN)/keyturn serve --demo

.PHONY: lint
lint: install ## ruff, mypy (strict on src/ and bench/) and the import-layer contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: test
test: lint ## Set up, lint, and run the whole suite on SQLite and PostgreSQL
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=25

.PHONY: fuzz
fuzz: install ## Fuzz every route against /openapi.json, longer than make test (FUZZ_EXAMPLES=200)
	KEYTURN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz

.PHONY: test-compat
test-compat: install ## Run Vercel's own clients (@vercel/sdk, vercel CLI) against a live keyturn
	COMPAT_DIR=$(COMPAT_DIR) KEYTURN_PYTHON=$(BIN)/python bash compat/run.sh

.PHONY: bench
bench: install ## Benchmarks: print a table of median latencies
	$(BIN)/python -m bench

.PHONY: format
format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

.PHONY: clean
clean: ## Remove the virtual environment and caches (not the data directory)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
