# mpyforge: `make demo` builds everything on the sample inbox; `make test` runs the test suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)
export PYTHONUNBUFFERED := 1
# One progress line per step is enough: no per-load progress bars or advisory warnings.
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export TRANSFORMERS_VERBOSITY := error

.PHONY: setup llama-cpp doctor lint demo test ui bench ollama-standin clean-artifacts

VM_DIR := var/micropython-vm
VM_STAMP := $(VM_DIR)/.installed

STUBS_DIR := var/stubs
STUBS_STAMP := $(STUBS_DIR)/.fetched

setup: $(STAMP) llama-cpp $(VM_STAMP) $(STUBS_STAMP)

# The venv is created once; the project is (re)installed whenever pyproject.toml changes.
# torch is pinned (pyproject) so this machine's local CPU wheel is used. llama-cpp-python is
# built by scripts/build_llama_cpp.py, before pip would build it its own way (GGML_NATIVE=ON).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m scripts.build_llama_cpp
	$(PY) -m pip install --quiet -e '.[dev]'
	mkdir -p var/dagster
	touch $(STAMP)

# Runs on every `make setup`: compiles llama.cpp only when the flags (MPYFORGE_LLAMA_CMAKE_ARGS,
# else the portable x86-64 baseline) have no wheel in var/wheels/<flags-hash>/ yet, and reinstalls
# only when the installed build has another key. A no-op costs about a second.
llama-cpp: $(STAMP)
	@$(PY) -m scripts.build_llama_cpp

# MicroPython's WebAssembly port (pipeline/evaluate/sandbox.py runs answers in it), installed
# from the committed lockfile into a git-ignored folder; re-run only when the lockfile changes.
$(VM_STAMP): pipeline/evaluate/vm/package.json pipeline/evaluate/vm/package-lock.json
	mkdir -p $(VM_DIR)
	cp pipeline/evaluate/vm/package.json pipeline/evaluate/vm/package-lock.json $(VM_DIR)/
	cd $(VM_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The official MicroPython API stubs per port (pipeline/evaluate/stub_index.py reads the .pyi files
# straight from these wheels: installed side by side, the ports would overwrite each other's machine.pyi).
$(STUBS_STAMP): pipeline/evaluate/stub_wheels.txt $(STAMP)
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -d $(STUBS_DIR) -r $<
	touch $@

doctor: setup
	$(VENV)/bin/mpyforge doctor

demo: setup
	@# A llama.cpp that cannot run here stops the demo now, with the fix, not in the GGUF step.
	$(VENV)/bin/mpyforge doctor --only llama
	$(VENV)/bin/mpyforge run --preset tiny
	@echo
	@echo "Artifacts (also: $(VENV)/bin/mpyforge artifacts --json):"
	@$(VENV)/bin/mpyforge artifacts
	@echo
	@echo "Report card: $(CURDIR)/var/artifacts/model_report/$$(cat var/artifacts/model_report/CURRENT)/report.md"
	@echo "Open the UI with: make ui   (then http://127.0.0.1:3000)"

# Import contracts (pyproject [tool.importlinter]), lint and format, dependency hygiene.
lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/deptry .

test: lint
	$(PY) -m pytest

ui: setup
	$(VENV)/bin/mpyforge ui --host 127.0.0.1 --port 3000

bench: setup
	for script in benchmarks/*.py; do echo "== $$script"; $(PY) -m benchmarks.$$(basename $$script .py) || exit 1; done

# A protocol-faithful Ollama stand-in (serves GGUF through llama.cpp) on Ollama's default
# port, for trying registration without installing Ollama: run it, then `make demo` elsewhere.
ollama-standin: setup
	$(PY) -m scripts.ollama_standin --port 11434 --store var/ollama-standin

clean-artifacts:
	rm -rf var/artifacts
