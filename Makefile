# The two everyday commands: `make run` (embedded stack + demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench chaos clean install browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded,test]'
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium (Debian's package) prints the statistical report's HTML to PDF in
# tests/reports; installed only when missing. We run as root; the lists may be stale.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

run: $(STAMP)
	$(BIN)/amparo dev --demo

test: $(STAMP) browser
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow" -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m slow tests/chaos

clean:
	rm -rf $(VENV) .amparo .pytest_cache .mypy_cache .ruff_cache
