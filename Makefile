# Heirloom: every target sets up what it needs, so a fresh clone runs `make demo`
# or `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch lies on local disk; without the pin pip reaches for CUDA.
TORCH  := torch==2.13.0
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test run bench models package screenshots lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[train,dev,cluster]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/python -m engine.demo out

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -rs -p no:cacheprovider

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

run: $(VENV)/.runtime
	QT_QPA_PLATFORM= $(BIN)/heirloom-gui

bench: $(VENV)/.dev
	$(BIN)/python -m bench out/bench

models: $(VENV)/.dev
	$(BIN)/python -m training.build_models

package: $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[package]'
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build packaging/heirloom.spec

screenshots: $(VENV)/.runtime
	$(BIN)/python -m gui.screenshots out/screenshots

clean:
	rm -rf out build dist .pytest_cache .ruff_cache
