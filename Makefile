# Two commands on a fresh machine: `make run` and `make test`.
# Both set up .venv, the front-end packages and the browser for the browser tests first;
# stamp files make a second run fast.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := ui/static/vendor
APP ?= configs/guarantee
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup browser-deps run test typecheck pytest bench clean

setup: $(VENV)/.installed $(VENDOR)/.installed browser-deps

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

# Debian's Chromium for the browser tests, CJK fonts for screenshots and printed PDFs in
# Chinese, and Pango, which WeasyPrint lays out PDF text with. Playwright's own browser
# download is never used. Installing needs root; other users get the command to run, and
# the browser tests skip until then.
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

browser-deps:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' \
		&& ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0' \
		&& ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset'; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	else \
		echo "The browser tests and printing need: $(SYSTEM_PACKAGES). Run 'sudo make browser-deps'. Until then the browser tests are skipped."; \
	fi

# Check the app, create or update its database (SQLite under data/ unless METADESK_DATABASE_URL
# is set), write its catalog rows, add the demo users and records (a second run adds nothing
# and prints the same users and passwords), then serve it on http://$(HOST):$(PORT)/.
run: setup
	$(BIN)/metadesk check $(APP)
	$(BIN)/metadesk migrate $(APP)
	$(BIN)/metadesk catalogs $(APP)
	$(BIN)/metadesk seed $(APP)
	$(BIN)/metadesk serve $(APP) --host $(HOST) --port $(PORT)

test: setup typecheck pytest

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/bench_check.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .mypy_cache .pytest_cache *.egg-info
