# Two commands for a newcomer: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
export MPLBACKEND := Agg
export BENTOML_DO_NOT_TRACK := true
export PYTHONUTF8 := 1

DEMO_DIR ?= demo-output
N_FIRMS ?= 50000
SEED ?= 42

.PHONY: install demo test test-fast test-slow lock serve bento mlflow-ui bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) venv --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --python $(BIN)/python requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	touch $@

lock:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

demo: install
	$(BIN)/innoscore demo --n-firms $(N_FIRMS) --seed $(SEED) --out-dir $(DEMO_DIR)

# The fast unit tier first (well under a minute), then the slow end-to-end tier.
test: install
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/python -m pytest -m slow

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

serve: install
	$(BIN)/innoscore serve

# The deployable Bento around the champion: the wheel, the locked requirements and the model.
bento: install
	$(UV) build --wheel --out-dir dist
	$(BIN)/innoscore bento

mlflow-ui: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

bench: install
	$(BIN)/python benchmarks/generation.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache dist
