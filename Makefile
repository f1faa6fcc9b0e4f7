# make demo   create .venv, install nk and every plugin in plugins/, run the demo experiment
# make test   same setup, then run all tests (core and plugins)
# make lint   ruff + mypy
# make bench  benchmarks (prints ratios; not part of the tests)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/*))
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: install demo test lint bench clean

$(STAMP): core/pyproject.toml $(wildcard plugins/*/pyproject.toml) constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e "core[test,explore,serve,optuna,parallel,ray,slurm]" $(addprefix -e ,$(PLUGINS)) ruff mypy
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/nk run

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check core plugins tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/bench_extraction.py
	$(BIN)/python bench/bench_explore.py
	$(BIN)/python bench/bench_vs_nkululeko.py --quick

clean:
	rm -rf $(VENV) results
