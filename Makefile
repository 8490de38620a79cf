# The two commands a newcomer needs: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
SOURCES := hopngo_ops tests bench

.PHONY: setup system-packages test lint demo bench clean

setup: $(STAMP) system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

system-packages:
	bash scripts/setup-system.sh

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

test: setup lint
	$(BIN)/python -m pytest -q

demo: setup
	bash scripts/demo.sh

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .sandbox .sandbox-demo
