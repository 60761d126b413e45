# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8008

.PHONY: run test install bench clean-dev

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## make run: local Synapse on 127.0.0.1:$(PORT) under .dev/, demo accounts, and the bot
run: $(STAMP)
	$(VENV)/bin/homeward dev --dir .dev --port $(PORT)

## make test: the whole suite, unit and integration (starts its own Synapse)
test: $(STAMP)
	$(VENV)/bin/python -m pytest

## make clean-dev: forget the local demo homeserver and bot state
clean-dev:
	rm -rf .dev
