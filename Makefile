# labelloop: set-up and checks. Each target creates .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint bench bench-smoke clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps: reinstall only when pyproject.toml changes.
$(VENV)/.demo: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(VENV)/bin/labelloop demo

lint: $(VENV)/.test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest

bench: $(VENV)/.test
	$(PY) bench/ingest_bench.py
	$(PY) bench/neardup_bench.py
	$(PY) bench/pii_bench.py
	$(PY) bench/health_bench.py
	$(PY) bench/queue_bench.py
	$(PY) bench/aggregation_bench.py
	$(PY) bench/label_errors_bench.py
	$(PY) bench/drift_bench.py
	$(PY) bench/quality_bench.py
	$(PY) bench/export_bench.py
	$(PY) bench/ui_bench.py
	$(PY) bench/dashboard_bench.py

bench-smoke: $(VENV)/.test
	$(PY) bench/ingest_bench.py --size small
	$(PY) bench/neardup_bench.py --size small
	$(PY) bench/pii_bench.py --size small
	$(PY) bench/health_bench.py --size small
	$(PY) bench/queue_bench.py --size small
	$(PY) bench/aggregation_bench.py --size small
	$(PY) bench/label_errors_bench.py --size small
	$(PY) bench/drift_bench.py --size small
	$(PY) bench/quality_bench.py --size small
	$(PY) bench/export_bench.py --size small
	$(PY) bench/ui_bench.py --size small
	$(PY) bench/dashboard_bench.py --size small

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/.data
