PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test typecheck bench trials clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(TEST_ARGS)

trials: $(STAMP)
	$(BIN)/python benchmarks/trials.py $(TRIALS_ARGS)

typecheck: $(STAMP)
	$(BIN)/python -m mypy src/qdrant_ops

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache
