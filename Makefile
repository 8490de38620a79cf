# The two commands a newcomer needs: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
SOURCES := hopngo_ops tests bench

.PHONY: setup system-packages test lint demo bench clean

setup: system-packages $(STAMP)

# The system packages come first: python3-venv is among them on a bare Debian.
$(STAMP): pyproject.toml | system-packages
	test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
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
	rm -rf $(VENV) .sandbox
