# The two commands of the README: `make demo` and `make test`. Each sets up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# SAM 2 (requirements_SAM.txt) is a source distribution: build it without its optional CUDA extension, and against
# the torch already installed (an isolated build would first install a second torch, CUDA libraries and all).
export SAM2_BUILD_CUDA := 0
PIP    := $(PY) -m pip install -qq --progress-bar off

.PHONY: demo test lint bench clean-venv

$(STAMP): requirements_GeoSeg.txt requirements_SAM.txt pyproject.toml
	@echo "setting up .venv (first run: a few minutes) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) -r requirements_GeoSeg.txt "setuptools>=70.1"
	@$(PIP) --no-build-isolation -r requirements_SAM.txt
	@$(PIP) -e ".[test,pipeline,scale]"
	@touch $@

demo: $(STAMP)
	@$(PY) pipeline/run_demo.py --out outputs/demo

# The suite runs in one worker process per core (pytest-xdist), a test file's tests in one worker (their module
# fixtures, such as a loopback cluster, start once), and ends with its 15 slowest tests.
test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadfile --durations=15

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) SESSRS/benchmarks/bench_sweep.py
	$(PY) pipeline/benchmarks/bench_scene.py

clean-venv:
	rm -rf $(VENV)
