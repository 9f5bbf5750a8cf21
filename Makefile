# Kith: `make demo` runs the main job end to end; `make test` runs the checks and the suite.
PYTHON ?= python3.11
# the suite's tests run in this many processes (each test file in one of them); most of a test's
# time is waiting on servers, workers and browsers, so two keep CI's two cores busy
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck serve bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kith demo

serve: $(STAMP)
	$(BIN)/kith serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile tests; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; \
	exit $$status

bench-quick: $(STAMP)
	$(BIN)/python bench/run --quick --out bench/out/quick-sqlite.json
	$(BIN)/python bench/run --quick --backend postgresql --out bench/out/quick-postgresql.json

clean:
	rm -rf $(VENV) var
