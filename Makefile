# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
# The Element compatibility test's Node modules (matrix-js-sdk), pinned by the lockfile.
NODE_STAMP := tests/element/node_modules/.stamp
# The screenshot walk's Node modules (playwright-core, which drives the system's Chromium).
UI_STAMP := tests/element/ui/node_modules/.stamp
PORT   ?= 8008
# Test workers (pytest-xdist): 3 by default, each with its own Synapse, a whole test file at a time (module
# fixtures are set up once). Three on two cores: much of an integration test is waiting (a reminder's
# time, an outage, a restart), which a third worker fills. 9,398 tests on a quiet 2-core machine: 9 min 17 s
# (beside other work: 10 min 11 s with 3 workers, 11 min 42 s with 2); 21 min in one process (JOBS=0).
JOBS   ?= 3

.PHONY: run test test-fast check install bench screenshots clean-dev

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test,check]"
	touch $(STAMP)

install: $(STAMP)

# Without npm the Element test skips (no node) and the rest of the suite still runs.
$(NODE_STAMP): tests/element/package.json tests/element/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/element --no-audit --no-fund && touch $(NODE_STAMP); \
	else \
		echo "npm not found: the Element compatibility test will be skipped"; \
	fi

## make run: local Synapse on 127.0.0.1:$(PORT) under .dev/, demo accounts, and the bot
run: $(STAMP)
	$(VENV)/bin/homeward dev --dir .dev --port $(PORT)

## make check: the formatter, the linter and the type checker (mypy over the package, tests and bench)
check: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m homeward.dev.typecheck

## make test: the whole suite, unit and integration (starts its own Synapse); JOBS=0 for one process
test: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/python -m pytest -n $(JOBS) --dist loadfile

## make test-fast: the unit tests only, for the edit-test loop: no Synapse, no killed processes (markers
## `synapse` and `slow`, pyproject.toml), and the fuzz tests with 50 examples each (FUZZ_EXAMPLES=n for more)
test-fast: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} $(VENV)/bin/python -m pytest -m "not synapse and not slow" -n $(JOBS) --durations=5

$(UI_STAMP): tests/element/ui/package.json tests/element/ui/package-lock.json
	npm ci --prefix tests/element/ui --no-audit --no-fund && touch $(UI_STAMP)

## make screenshots: every picture the README shows. A demo case walked through the real Element Web
## (ELEMENT_WEB_DIR, default ../shared/element-web/webapp) in the system's Chromium, PNGs in docs/screens/;
## the timeline and the numbers drawn from demo data, docs/timeline.png and docs/stats.png.
## Needs Node 20+ (npm), Chromium and an Element Web build. Not part of make test.
screenshots: $(STAMP) $(UI_STAMP)
	$(VENV)/bin/python bench/pictures.py --readme docs
	$(VENV)/bin/python tests/element/ui/screenshots.py

## make bench: every benchmark in bench/, one after the other; figures go in BENCHMARKS.md
bench: $(STAMP)
	$(VENV)/bin/python bench/roundtrip.py
	$(VENV)/bin/python bench/burst.py
	$(VENV)/bin/python bench/scale.py
	$(VENV)/bin/python bench/reminders.py
	$(VENV)/bin/python bench/exports.py
	$(VENV)/bin/python bench/pictures.py
	$(VENV)/bin/python bench/cases.py
	$(VENV)/bin/python bench/engines.py
	$(VENV)/bin/python bench/standby.py
	$(VENV)/bin/python bench/morning.py
	$(VENV)/bin/python bench/flood.py

## make clean-dev: forget the local demo homeserver and bot state
clean-dev:
	rm -rf .dev
