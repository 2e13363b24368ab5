# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest venv clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/realtime-seg demo --out-dir out

lint: $(STAMP)
	$(VENV)/bin/ruff check realtime_seg tests tools
	$(VENV)/bin/ruff format --check realtime_seg tests tools

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not gpu" $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) tools/benchmark.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
