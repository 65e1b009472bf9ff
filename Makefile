# Two commands (see README): `make demo` runs the main job, `make test` runs the tests.
# Each creates or reuses the virtualenv .venv and installs what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c .ci/constraints.txt

.PHONY: demo test lint bench schemas clean web docs

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "realtime_agent needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml .ci/constraints.txt
	$(PIP) -e .
	@touch $@

# The demo speaks and hears for real with the voice extra (models inside its wheels).
$(VENV)/.installed-voice: $(VENV)/.installed
	$(PIP) -e '.[voice]'
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev,voice,web]'
	@touch $@

demo: $(VENV)/.installed-voice
	$(BIN)/realtime-agent demo

# The web server (voice page, relay, phone bridge) on http://127.0.0.1:8000/.
web: $(VENV)/.installed-voice
	$(PIP) -e '.[web,voice]'
	$(BIN)/realtime-agent web

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/), built strict: a broken reference fails.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP) -e '.[docs]'
	@touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(VENV)/.installed-dev
	$(PIP) -e '.[bench]'
	$(BIN)/python bench/session_cpu.py
	$(BIN)/python bench/many_sessions.py
	$(BIN)/python bench/bargein.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/resample.py
	$(BIN)/python bench/vad.py
	$(BIN)/python bench/stt.py

schemas: $(VENV)/.installed
	$(BIN)/realtime-agent schema export schemas

clean:
	rm -rf $(VENV) .venv-bench-agents build dist site .pytest_cache .mypy_cache .ruff_cache .hypothesis
