# Two commands do all the set-up on a fresh machine with only Python 3.10+ on it:
#   make demo   -> creates .venv, installs structnet, runs the bundled models on sample photos
#   make test   -> creates .venv, installs structnet with test extras, runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build that this project's machines carry; GPU users install their own torch first.
TORCH ?= torch==2.13.0

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/structnet demo --out structnet-demo

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) structnet-demo .pytest_cache
