# Two commands from a fresh clone: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

install: $(STAMP)

# The lock pins every package (torch 2.13.0 CPU build included); re-run only when it changes.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: install
	$(BIN)/rlsys run $(ARGS)

test: install
	$(BIN)/python -m pytest -q $(ARGS)

lint: install
	$(BIN)/ruff check rlsys envs tests bench
	$(BIN)/ruff format --check rlsys envs tests bench

format: install
	$(BIN)/ruff format rlsys envs tests bench
	$(BIN)/ruff check --fix rlsys envs tests bench

bench: install
	$(BIN)/python bench/jobshop_sim.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
