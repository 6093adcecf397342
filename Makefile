# Quick start: `make run` starts Switchboard on embedded defaults; `make test` runs every check.
# Both create .venv from a bare python3 and install into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# This environment may set PYTHONDONTWRITEBYTECODE; litellm then re-compiles on every import (6 s).
export PYTHONDONTWRITEBYTECODE :=
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test lint typecheck imports pytest bench soak migration lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs in seconds; plain pip is the fallback if uv cannot be had. constraints.txt pins the versions the
# tests last passed with, so a new upstream release cannot change a fresh install under us.
define install
	@$(BIN)/python -m pip install -q uv >/dev/null 2>&1 || true
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -e '$(1)'; \
	 else $(BIN)/python -m pip install -q -c constraints.txt -e '$(1)'; fi
endef

$(VENV)/.run-deps: pyproject.toml constraints.txt | $(BIN)/python
	$(call install,.)
	@touch $@

$(VENV)/.dev-deps: pyproject.toml constraints.txt | $(BIN)/python
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
	$(BIN)/python -m bench.scale $(SCALE_ARGS)
	$(BIN)/python -m bench.burst $(BURST_ARGS)
	$(BIN)/python -m bench.tools $(TOOLS_ARGS)

# 10,000 messages over 200 Slack threads, two HTTP workers on PostgreSQL, 20% of provider calls faulty, one worker
# killed with kill -9 (bench/soak.py); needs SWITCHBOARD_TEST_POSTGRES_URL or SOAK_ARGS="--database-url ...".
soak: $(VENV)/.dev-deps
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

migration: $(VENV)/.dev-deps
	$(BIN)/python -m core.storage.migrate regenerate

# Newest releases pyproject.toml allows, resolved afresh (the header is kept); run `make test` after it.
lock: $(VENV)/.dev-deps
	@head -2 constraints.txt > constraints.new
	$(BIN)/uv pip compile -q --python $(BIN)/python --extra dev --no-header --no-annotate pyproject.toml >> constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
