# Two entry points for a fresh clone (see README): `make demo` and `make test`.
# Each creates .venv (Python 3.11+) and installs ruralnet with its dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ruralnet demo --out maps/demo

test: $(STAMP)
	$(BIN)/ruff check ruralnet tests benchmarks
	$(BIN)/ruff format --check ruralnet tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ruralnet tests benchmarks
	$(BIN)/ruff format --check ruralnet tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_travel.py

clean:
	rm -rf $(VENV) build *.egg-info
