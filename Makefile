PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install azurite demo test test-slow test-all typecheck bench trials clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Azurite (npm) under .tools/ for the az:// tests; Node.js from Debian where it is missing.
AZURITE := .tools/node_modules/.bin/azurite-blob
azurite: $(AZURITE)

$(AZURITE):
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3.37.0

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

# test: the behavioural suite (the README's command); test-slow: crash, fault, corruption-trial and
# benchmark-smoke tests; test-all: both, as CI runs them. Both start Azurite for the az:// tests.
test: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest -q -m "not slow" $(TEST_ARGS)

test-slow: $(STAMP) $(AZURITE)
	$(BIN)/python -m pytest -q -m slow $(TEST_ARGS)

test-all: test test-slow

trials: $(STAMP)
	$(BIN)/python benchmarks/trials.py $(TRIALS_ARGS)

typecheck: $(STAMP)
	$(BIN)/python -m mypy src/qdrant_ops

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	PYTHONPATH=src $(BIN)/python benchmarks/incremental.py $(INCR_ARGS)
	PYTHONPATH=src $(BIN)/python benchmarks/s3.py $(S3_ARGS)
	PYTHONPATH=src $(BIN)/python benchmarks/sources.py $(SOURCES_ARGS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache .tools
