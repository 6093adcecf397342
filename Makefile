# Quick start: `make run` starts Switchboard on embedded defaults; `make test` runs every check.
# Both create .venv from a bare python3 and install into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# This environment may set PYTHONDONTWRITEBYTECODE; litellm then re-compiles on every import (6 s).
export PYTHONDONTWRITEBYTECODE :=
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test lint typecheck imports pytest bench migration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs in seconds; plain pip is the fallback if uv cannot be had.
define install
	@$(BIN)/python -m pip install -q uv >/dev/null 2>&1 || true
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python $(BIN)/python -e '$(1)'; \
	 else $(BIN)/python -m pip install -q -e '$(1)'; fi
endef

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(call install,.)
	@touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/python
	$(call install,.[dev])
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/switchboard init
	$(BIN)/switchboard up

test: $(VENV)/.dev-deps lint typecheck imports pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-deps
	$(BIN)/mypy

imports: $(VENV)/.dev-deps
	$(BIN)/lint-imports

pytest: $(VENV)/.dev-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

migration: $(VENV)/.dev-deps
	$(BIN)/python -m core.migrate regenerate

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
