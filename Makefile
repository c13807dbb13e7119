# Two entry points for a fresh clone (see README): `make demo` and `make test`.
# Each creates .venv (Python 3.11+) and installs ruralnet with its dependencies first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean browser

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ruralnet demo --out maps/demo

# The map tests open the offline map in a real headless Chromium (skipped, with the reason,
# when it is missing and cannot be installed here).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) ; } \
	  || echo "no chromium: the browser test will be skipped"

test: $(STAMP) browser
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
