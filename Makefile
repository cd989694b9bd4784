# Two commands from a fresh clone: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

install: $(STAMP)

# Optional: TORCH_INDEX=https://download.pytorch.org/whl/cpu takes torch (the lock's pin) from
# PyTorch's CPU-only index; everything else, and torch by default, comes from PyPI.
TORCH_INDEX ?=

# The lock pins every package (torch ==2.13.0: PyPI's build, or the CPU one above); re-run
# only when it changes (`make clean` first to switch TORCH_INDEX).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(BIN)/pip install -q --no-deps --index-url $(TORCH_INDEX) "$$(grep '^torch==' requirements.lock)")
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
