# Two commands on a fresh machine: `make run` and `make test`.
# Both set up .venv and the front-end packages first; stamp files make a second run fast.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := ui/static/vendor
APP ?= configs/guarantee

.PHONY: setup run test typecheck pytest bench clean

setup: $(VENV)/.installed $(VENDOR)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR)/.installed: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	touch $@

# Until the screens exist, running the app means checking it, creating or updating its
# SQLite database under data/, and writing its catalog rows.
run: setup
	$(BIN)/metadesk check $(APP)
	$(BIN)/metadesk migrate $(APP)
	$(BIN)/metadesk catalogs $(APP)

test: setup typecheck pytest

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/bench_check.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .mypy_cache .pytest_cache *.egg-info
