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

.PHONY: setup demo test ui bench ollama-standin clean-artifacts

setup: $(STAMP)

# The venv is created once; the project is (re)installed whenever pyproject.toml changes.
# torch is pinned (pyproject) so this machine's local CPU wheel is used; llama-cpp-python
# compiles llama.cpp from source the first time (pip caches the built wheel afterwards).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	mkdir -p var/dagster
	touch $(STAMP)

demo: setup
	$(VENV)/bin/mpyforge run --preset tiny
	@echo
	@echo "Artifacts (also: $(VENV)/bin/mpyforge artifacts --json):"
	@$(VENV)/bin/mpyforge artifacts
	@echo
	@echo "Report card: $(CURDIR)/var/artifacts/model_report/$$(cat var/artifacts/model_report/CURRENT)/report.md"
	@echo "Open the UI with: make ui   (then http://127.0.0.1:3000)"

test: setup
	$(PY) -m pytest

ui: setup
	$(VENV)/bin/mpyforge ui --host 127.0.0.1 --port 3000

bench: setup
	for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# A protocol-faithful Ollama stand-in (serves GGUF through llama.cpp) on Ollama's default
# port, for trying registration without installing Ollama: run it, then `make demo` elsewhere.
ollama-standin: setup
	$(PY) tests/ollama_standin.py --port 11434 --store var/ollama-standin

clean-artifacts:
	rm -rf var/artifacts
