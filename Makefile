# Heirloom: every target sets up what it needs, so a fresh clone runs `make demo`
# or `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch lies on local disk; without the pin pip reaches for CUDA. The
# extras repeat it: spandrel needs torchvision, whose newest wheel would pull a CUDA torch.
TORCH  := torch==2.13.0
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test run bench models package package-test screenshots lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[train,dev,cluster]' $(TORCH)
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/python -m engine.cli.demo out

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

# `make package` builds the GPU variant (onnxruntime-gpu) from .venv; `make package CPU=1`
# the CPU variant (plain onnxruntime) from its own .venv-cpu, since both wheels install
# the same `onnxruntime` module. Output: dist/Heirloom/ and dist/Heirloom-VERSION-VARIANT-linux-ARCH.tar.gz.
ifeq ($(CPU),1)
PKG_VENV := .venv-cpu
VARIANT  := cpu
else
PKG_VENV := $(VENV)
VARIANT  := gpu
endif
DIST  ?= dist
BUILD ?= build
PACKAGE_OUT := out/package-test

.venv-cpu/.package: pyproject.toml packaging/requirements.py
	$(PYTHON) -m venv .venv-cpu
	.venv-cpu/bin/pip install -q $$($(PYTHON) packaging/requirements.py --cpu) 'pyinstaller>=6.5'
	.venv-cpu/bin/pip install -q --no-deps -e .
	touch $@

$(VENV)/.package: pyproject.toml | $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[package]'
	touch $@

package: $(PKG_VENV)/.package
	HEIRLOOM_VARIANT=$(VARIANT) nice -n 10 $(PKG_VENV)/bin/pyinstaller --noconfirm \
		--distpath $(DIST) --workpath $(BUILD)/$(VARIANT) packaging/heirloom.spec
	sh packaging/archive.sh $(DIST) $(VARIANT)

# The release check: a clean CPU build, its self-test, and its restore output against
# the source install's (within 1/255).
package-test: $(VENV)/.runtime
	rm -rf dist-test build-test $(PACKAGE_OUT)
	$(MAKE) package CPU=1 DIST=dist-test BUILD=build-test
	mkdir -p $(PACKAGE_OUT)
	dist-test/Heirloom/Heirloom --version
	dist-test/Heirloom/Heirloom --self-test
	dist-test/Heirloom/Heirloom restore resources/samples/old_LadyBird.jpg \
		-o $(PACKAGE_OUT)/frozen.png --device cpu
	$(BIN)/heirloom restore resources/samples/old_LadyBird.jpg \
		-o $(PACKAGE_OUT)/source.png --device cpu
	$(BIN)/python packaging/same_image.py $(PACKAGE_OUT)/frozen.png $(PACKAGE_OUT)/source.png

screenshots: $(VENV)/.runtime
	$(BIN)/python -m gui.screenshots out/screenshots

clean:
	rm -rf out build dist build-test dist-test .pytest_cache .ruff_cache
