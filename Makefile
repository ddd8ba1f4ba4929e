# Kolot: the README's two commands, `make up` and `make test`, and the tools around them.
# Everything is installed into ./.venv by uv from uv.lock; uv itself is bootstrapped with pip when
# the machine has none, so a fresh clone needs only Python 3.11 and make.

PYTHON     ?= python3
UV_VERSION := 0.13.9
BOOTSTRAP  := .kolot/bootstrap
UV         := $(or $(shell command -v uv 2>/dev/null),$(BOOTSTRAP)/bin/uv)
RUN        := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=
# The browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
CHROMIUM   ?= /usr/bin/chromium
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install install-browser up demo test test-unit test-integration test-e2e test-browser test-faults lint typecheck schemas bench clean

$(BOOTSTRAP)/bin/uv:
	@echo "-> bootstrapping uv $(UV_VERSION) into $(BOOTSTRAP)"
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --frozen --all-packages

install-browser:
	@test -x $(CHROMIUM) || { \
		echo "-> installing Debian's Chromium for the browser tests (apt-get)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

up: install
	$(RUN) kolot-dev up $(UP_ARGS)

demo: install
	$(RUN) kolot-dev up --demo

test: install install-browser
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) mypy libs services
	$(RUN) pytest tests $(PYTEST_ARGS)

test-unit: install
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(RUN) pytest tests/e2e $(PYTEST_ARGS)

test-browser: install install-browser
	$(RUN) pytest tests/browser $(PYTEST_ARGS)

test-faults: install
	$(RUN) pytest tests/faults $(PYTEST_ARGS)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: install
	$(RUN) mypy libs services

schemas: install
	$(RUN) python -m kolot.common.events.export libs/common/schemas

bench: install
	$(RUN) python bench/run.py

clean:
	rm -rf .venv .kolot .pytest_cache .mypy_cache .ruff_cache
