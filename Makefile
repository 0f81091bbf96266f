# Gridwatch: `make demo` serves the demo on http://127.0.0.1:8501; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The CJK font draws the Chinese names on report maps (the only system package the demo needs).
demo: install
	bash scripts/system-deps.sh fonts-wqy-microhei
	$(BIN)/gridwatch demo

# System packages the tests use: PostGIS, MariaDB, Chromium, CJK fonts (apt-get when missing).
system-deps:
	bash scripts/system-deps.sh

test: install system-deps
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) data build *.egg-info
