# mmrag_lab: every entry point a user needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Every version that passed the tests, with hashes: `make setup` installs exactly these (tools/lockfile.py).
LOCK := requirements.lock
# What the lock resolves: pyproject.toml with these extras, plus requirements.in (the torch pair).
LOCK_INPUTS := pyproject.toml --extra dev --extra server --extra ray requirements.in
# The Pythons supported (pyproject.toml's classifiers): the CPU machines run 3.11, the GPU machines 3.12.
PYTHONS := 3.11 3.12
LOCK_FLAGS := --universal --python-version $(firstword $(PYTHONS)) --generate-hashes --quiet
UV := $(VENV)/bin/uv
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
# JupyterLab refuses to start as root (containers) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
KERNEL := mmrag-lab
# The openai releases `make openai-compat` tries: the floor pyproject.toml admits, then each major's newest.
OPENAI ?= 1.55.3 1.109.1 2.54.0 3.0.0 3.63.0

.DEFAULT_GOAL := help
.PHONY: help setup lock lock-check upgrade openai-compat demo check test lint bench lab app notebooks strip wheel clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Build .venv, or bring a stale one back, to exactly the versions in requirements.lock; register the kernel
	@$(PY) -c '' 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) tools/lockfile.py sync $(LOCK) --project .
	@$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "Python (mmrag-lab)" >/dev/null
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install; fi

lock: setup ## Re-resolve requirements.lock after a change to pyproject.toml or requirements.in, moving nothing else
	@cp $(LOCK) $(LOCK).old
	$(UV) pip compile $(LOCK_INPUTS) $(LOCK_FLAGS) -o $(LOCK)
	@$(PY) tools/lockfile.py moved $(LOCK).old $(LOCK); rm -f $(LOCK).old
	$(PY) tools/lockfile.py environment $(LOCK) environment.yml

lock-check: setup ## Check that the lock resolves, wheels only, for every supported Python (x86-64 Linux)
	$(PY) tools/lockfile.py resolves $(LOCK) --uv $(UV) --python $(PYTHONS)

upgrade: setup ## Move every package to the newest version allowed; the lock is rewritten only if `make test` passes
	@LOCK=$(LOCK) LOCK_INPUTS="$(LOCK_INPUTS)" LOCK_FLAGS="$(LOCK_FLAGS)" PYTHONS="$(PYTHONS)" VENV=$(VENV) bash tools/upgrade.sh

openai-compat: setup ## Run the reranker's tests on other openai releases (OPENAI="1.55.3 3.63.0" picks them)
	@VENV=$(VENV) OPENAI="$(OPENAI)" bash tools/openai_compat.sh

demo: setup ## Run the main job end to end: ingest the bundled sample into Milvus Lite, search, rerank, inspect
	$(PY) -m mmrag_lab.workbench.runtime.demo

# The fast tier: what the tests marked slow, server (the real Milvus) or browser (Chromium) leave out.
FAST := not slow and not server and not browser

check: setup lint ## Lint, then the fast tier of the tests (no slow, server or browser tests): the inner loop
	$(PY) -m pytest -q -p no:cacheprovider -m "$(FAST)"

test: setup lint ## Lint, then run the whole test suite (Milvus Lite + a real Milvus server, notebooks via papermill and in Chromium)
	@VENV=$(VENV) bash tests/browser/setup_browser.sh || echo "!!! no browser could be installed: the browser tests will be SKIPPED !!!"
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup ## ruff check + format check, and refuse notebooks committed with outputs
	$(VENV)/bin/ruff check mmrag_lab tests benchmarks tools
	$(VENV)/bin/ruff format --check mmrag_lab tests benchmarks tools
	@if [ -n "$(NOTEBOOKS)" ]; then $(VENV)/bin/nbstripout --verify $(NOTEBOOKS) || \
	  { echo "Notebooks have outputs: run 'make strip' and commit again."; exit 1; }; fi

bench: setup ## Measure speeds and limits; writes BENCHMARKS.md
	$(PY) benchmarks/run.py

lab: setup ## Open JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab notebooks/ $(ALLOW_ROOT)

app: setup ## Serve the search-and-rerank app as a web page (Voila) on http://127.0.0.1:8866/; ARGS="--port N --host H"
	$(VENV)/bin/mmrag app $(ARGS)

notebooks: setup ## Run all notebooks headless with papermill into runs/<timestamp>/
	$(PY) -m mmrag_lab.workbench.runtime.notebook_runs

strip: setup ## Remove outputs from the notebooks
	$(VENV)/bin/nbstripout $(NOTEBOOKS)

wheel: setup ## Build dist/mmrag_lab-<version>-py3-none-any.whl (for Colab: upload it when a notebook is not opened from GitHub)
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean: ## Remove caches and run outputs (keeps .venv; `rm -rf .venv` to rebuild it)
	rm -rf runs .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
