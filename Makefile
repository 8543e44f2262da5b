# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/seeds

.PHONY: run test lint install install-test clean corpora quality

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamp files make re-runs cheap; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/dedup scan seeds --out $(OUT) --force

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

test: lint
	$(BIN)/python -m pytest -q

# Builds the corpora of ../shared/corpora/*/make.sh (downloads from PyPI) into benchmarks/data.
SHARED ?= ../shared
DATA := benchmarks/data
corpora:
	mkdir -p $(DATA)
	for c in src_kubernetes neardup_k8s_sync_aio debian_copyright; do \
	  [ -d $(DATA)/$$c/docs ] || bash $(SHARED)/corpora/$$c/make.sh $(CURDIR)/$(DATA)/$$c; done

quality: install
	$(BIN)/python benchmarks/quality.py --shared $(SHARED) --write

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
