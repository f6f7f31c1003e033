# Two commands for a fresh machine: `make lab` opens the course, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: lab test bench bench-experiments sweep release clean

$(VENV)/.stamp-lab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.stamp-lab

# JupyterLab refuses to run as root unless told; containers and course machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(VENV)/.stamp-lab
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

test: $(VENV)/.stamp-test
	$(PY) -m pytest -n 2

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_kv.py
	$(PY) benchmarks/bench_linearizability.py
	$(PY) benchmarks/bench_grading.py
	$(PY) benchmarks/bench_viz.py
	$(PY) benchmarks/bench_etcd.py

# Regenerate exercises/ from solutions/ (a test fails when they drift apart).
release: $(VENV)/.stamp-lab
	$(VENV)/bin/raftedu release

bench-experiments: $(VENV)/.stamp-test
	$(PY) benchmarks/bench_experiments.py

sweep: $(VENV)/.stamp-test
	$(PY) -m raftedu.sweep --seeds 1000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
