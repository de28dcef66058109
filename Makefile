# Two commands do everything on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench fuzz clean

NATIVE := rtrl/kernels/_influence.so

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask,fast]'
	touch $(STAMP)

# The C influence update for this CPU (skipped with a note where there is no C compiler).
$(NATIVE): rtrl/kernels/influence.c rtrl/kernels/native.py $(STAMP)
	$(PY) -m rtrl.kernels.native

demo: $(STAMP) $(NATIVE)
	$(VENV)/bin/accel-sim demo

test: $(STAMP) $(NATIVE)
	$(PY) -m pytest

bench: $(STAMP) $(NATIVE)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# The input-surface fuzzers at 20x their make-test budget (about 10 minutes on 2 cores); use
# `make fuzz FUZZ_TESTS=tests` to run every property test of the suite under the fuzz profile.
FUZZ_TESTS ?= tests/hardening
fuzz: $(STAMP) $(NATIVE)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest $(FUZZ_TESTS) -m 'not gpu' -p no:cacheprovider --hypothesis-show-statistics

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(NATIVE) $(NATIVE).cpu
