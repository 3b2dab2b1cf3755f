# The two commands: `make run` (try Kvitt) and `make test` (every check CI runs).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2
# worksteal: a worker that runs out of tests takes half of the other's queue, instead of idling
# while the other ends a long test (docs/testing.md, "CI time").
PYTEST_DIST ?= worksteal

.PHONY: install run test lint typecheck test-sqlite test-postgresql test-postgresql-db-only e2e bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/kvitt run

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

test-sqlite: install
	KVITT_TEST_DB=sqlite $(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) -q

test-postgresql: install
	KVITT_TEST_DB=postgresql $(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) -q

# make test's PostgreSQL run: only the tests that use the database. The others (codecs, pure
# units, Hypothesis properties, lint-like checks) ran in the SQLite run just before and would
# do the same again; tests/conftest.py's uses_test_database decides, docs/testing.md says how.
test-postgresql-db-only: install
	KVITT_TEST_DB=postgresql KVITT_TEST_DB_ONLY=1 $(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) -q

# The browser tests alone (Debian's /usr/bin/chromium; .ci/run installs it when missing).
e2e: install
	KVITT_TEST_DB=sqlite $(BIN)/pytest -n 0 -q tests/e2e

test: lint typecheck test-sqlite test-postgresql-db-only

bench: install
	$(BIN)/python bench/issue_invoices.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis kvitt.db*
