# mmrag_lab: every entry point a user needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch and torchvision must come as a matching pair (torchvision's compiled ops are built per torch release).
TORCH_PAIR := torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.mmrag-installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
# JupyterLab refuses to start as root (containers) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
KERNEL := mmrag-lab

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint bench lab app notebooks strip wheel clean

help: ## List the targets
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) ## Build .venv with everything, register the kernel, install the nbstripout git filter (idempotent)
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install; fi

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet $(TORCH_PAIR)
	$(PY) -m pip install --quiet -e ".[dev,server]" $(TORCH_PAIR)
	$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "Python (mmrag-lab)"
	@touch $(STAMP)

demo: setup ## Run the main job end to end: ingest the bundled sample into Milvus Lite, search, rerank, inspect
	$(PY) -m mmrag_lab.workbench.demo

test: setup lint ## Lint, then run the whole test suite (Milvus Lite + a real Milvus server, notebooks via papermill and in Chromium)
	@VENV=$(VENV) bash tests/browser/setup_browser.sh || echo "!!! no browser could be installed: the browser tests will be SKIPPED !!!"
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup ## ruff check + format check, and refuse notebooks committed with outputs
	$(VENV)/bin/ruff check mmrag_lab tests benchmarks
	$(VENV)/bin/ruff format --check mmrag_lab tests benchmarks
	@if [ -n "$(NOTEBOOKS)" ]; then $(VENV)/bin/nbstripout --verify $(NOTEBOOKS) || \
	  { echo "Notebooks have outputs: run 'make strip' and commit again."; exit 1; }; fi

bench: setup ## Measure speeds and limits; writes BENCHMARKS.md
	$(PY) benchmarks/run.py

lab: setup ## Open JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab notebooks/ $(ALLOW_ROOT)

app: setup ## Serve the search-and-rerank app as a web page (Voila) on http://127.0.0.1:8866/; ARGS="--port N --host H"
	$(VENV)/bin/mmrag app $(ARGS)

notebooks: setup ## Run all notebooks headless with papermill into runs/<timestamp>/
	$(PY) -m mmrag_lab.workbench.runs

strip: setup ## Remove outputs from the notebooks
	$(VENV)/bin/nbstripout $(NOTEBOOKS)

wheel: setup ## Build dist/mmrag_lab-<version>-py3-none-any.whl (for Colab: upload it when a notebook is not opened from GitHub)
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean: ## Remove caches and run outputs (keeps .venv; `rm -rf .venv` to rebuild it)
	rm -rf runs .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
