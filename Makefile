# Kolot: the README's two commands, `make up` and `make test`, and the tools around them.
# Everything is installed into ./.venv by uv from uv.lock; uv itself is bootstrapped with pip when
# the machine has none, so a fresh clone needs only Python 3.11 and make.

PYTHON     ?= python3
UV_VERSION := 0.13.9
BOOTSTRAP  := .kolot/bootstrap
UV         := $(or $(shell command -v uv 2>/dev/null),$(BOOTSTRAP)/bin/uv)
RUN        := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: install up demo test test-unit test-integration test-e2e lint typecheck schemas bench clean

$(BOOTSTRAP)/bin/uv:
	@echo "-> bootstrapping uv $(UV_VERSION) into $(BOOTSTRAP)"
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --frozen --all-packages

up: install
	$(RUN) kolot-dev up $(UP_ARGS)

demo: install
	$(RUN) kolot-dev up --demo

test: install
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
