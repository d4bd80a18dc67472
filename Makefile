PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow test-all typecheck bench trials clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

# test: the behavioural suite (the README's command); test-slow: crash, fault, corruption-trial and
# benchmark-smoke tests; test-all: both, as CI runs them.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(TEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(TEST_ARGS)

test-all: test test-slow

trials: $(STAMP)
	$(BIN)/python benchmarks/trials.py $(TRIALS_ARGS)

typecheck: $(STAMP)
	$(BIN)/python -m mypy src/qdrant_ops

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	PYTHONPATH=src $(BIN)/python benchmarks/incremental.py $(INCR_ARGS)
	PYTHONPATH=src $(BIN)/python benchmarks/sources.py $(SOURCES_ARGS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache
