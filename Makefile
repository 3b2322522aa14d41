# mailwright: `make serve` and `make test` are the whole quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser node-sdk serve test check lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

serve: install
	$(BIN)/mailwright serve

browser:
	scripts/install-browser

node-sdk:
	scripts/install-node-sdk

test: install browser node-sdk
	scripts/check
	scripts/test

check: install
	scripts/check

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install
	$(BIN)/python bench/accept.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache tests/node/node_modules
