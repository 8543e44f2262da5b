# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/seeds

.PHONY: run test lint install install-test clean corpora quality browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamp files make re-runs cheap; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

# The ray extra too, so that the Ray engine's tests run (about 250 MB, 15 s from PyPI).
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test,ray]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/dedup scan seeds --out $(OUT) --force

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

# The report's browser test needs Debian's chromium: installed here when it is
# missing and apt-get is usable (root, or sudo without a password); otherwise
# this says so and the test skips with the reason. Quick when it is there.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then sudo=; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "chromium missing and apt-get not usable: the browser test will skip"; exit 0; fi; \
	  echo "installing chromium (Debian) for the report's browser test"; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	  || echo "could not install chromium: the browser test will skip"; }

test: lint browser
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

# numba's disk caches too: each is keyed on its own source file only (see README, Layout).
clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete
