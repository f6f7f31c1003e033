# Two commands for a fresh machine: `make lab` opens the course, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: lab test test-min site lite bench bench-experiments sweep release clean

$(VENV)/.stamp-lab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lab]'
	touch $@

# --no-compile: a module is compiled when first imported; compiling every installed module up front (JupyterLab, Sphinx,
# pandas, ... ~10,000 files) is ~34 s of CPU before the first test, mostly for modules no test imports.
$(VENV)/.stamp-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -e '.[test]'
	touch $@ $(VENV)/.stamp-lab

# JupyterLab refuses to run as root unless told; containers and course machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(VENV)/.stamp-lab
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

# WORKERS: pytest-xdist processes (2 on CI's 2 cores). The run ends with each worker's time in tests and how long it sat
# idle at the end; RAFTEDU_TIMELINE=FILE also writes when each test ran on which worker (tests/conftest.py).
WORKERS ?= 2
test: $(VENV)/.stamp-test
	$(PY) -m pytest -n $(WORKERS) --durations=25

# The declared lower bounds, proven: a separate venv with exactly tests/min-versions.txt, quick tier only.
# --no-compile: the quick tier imports a fraction of what is installed (a module is compiled when first imported);
# compiling all of pandas, numpy, plotly, ... up front is ~14 s of CPU, mostly for modules no test imports.
MIN_VENV := .venv-min
$(MIN_VENV)/.stamp: pyproject.toml tests/min-versions.txt
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(MIN_VENV)/bin/python -m pip install -q --no-compile -c tests/min-versions.txt -e '.[grader]' pytest pytest-xdist
	touch $@

test-min: $(MIN_VENV)/.stamp
	$(MIN_VENV)/bin/python -m pip list --format=freeze | grep -iE '^(ipywidgets|plotly|anywidget|pandas|numpy|tqdm|nbclient|nbformat|ipykernel)=='
	$(MIN_VENV)/bin/python -m pytest -n $(WORKERS) -q -m "not slow and not kernel and not browser and not etcd" -p no:cacheprovider

# The course as a JupyterLite site (JupyterLab + Python in the browser): build/lite/index.html, serve it over HTTP.
lite: $(VENV)/.stamp-test
	$(VENV)/bin/raftedu lite build/lite --root .

# The documentation site (guides, every lesson with its figures drawn without a kernel, the API): build/site/index.html;
# it fails on a broken link or on a page that would load anything from another host.
site: $(VENV)/.stamp-test
	$(VENV)/bin/raftedu site build/site --root .

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_kv.py
	$(PY) benchmarks/bench_linearizability.py
	$(PY) benchmarks/bench_grading.py
	$(PY) benchmarks/bench_viz.py --browser
	$(PY) benchmarks/bench_etcd.py
	$(PY) benchmarks/bench_explore.py

# Regenerate exercises/ from solutions/ (a test fails when they drift apart).
release: $(VENV)/.stamp-lab
	$(VENV)/bin/raftedu release

bench-experiments: $(VENV)/.stamp-test
	$(PY) benchmarks/bench_experiments.py

sweep: $(VENV)/.stamp-test
	$(PY) -m raftedu.sweep --seeds 1000

clean:
	rm -rf $(VENV) $(MIN_VENV) build *.egg-info .pytest_cache
