# livecast: every target installs what it needs (uv, the virtualenv, RabbitMQ, MongoDB).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

PY_PACKAGES := contracts servicekit testkit mux_sim stream_svc viewer_svc chat_gateway webhook_ingest notifier bench
VENV := .venv
UV := scripts/uv.sh

.PHONY: help setup infra infra-down test test-fast lint typecheck format bench run demo e2e schemas clean

help:
	@echo "make run      - run the whole system locally (gateway on http://127.0.0.1:8080)"
	@echo "make test     - lint, typecheck and every test layer this machine can run"
	@echo "make bench    - run every benchmark under bench/ and write bench/results/"
	@echo "make lint     - ruff + mypy"

setup: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	@$(UV) sync --all-packages --locked --quiet
	@touch $@

infra: setup
	@python3 scripts/infra.py up

infra-down:
	@python3 scripts/infra.py down

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet . || (echo "ruff format: run 'make format'"; exit 1)
	@$(MAKE) --no-print-directory typecheck

typecheck: setup
	@$(VENV)/bin/mypy $(foreach p,$(PY_PACKAGES),$(if $(wildcard libs/*/src/$(p) services/*/src/$(p) tools/*/src/$(p) $(p)/__init__.py),-p $(p)))

format: setup
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix --quiet .

test: setup infra lint
	@source .infra/env && $(VENV)/bin/pytest

test-fast: setup infra
	@source .infra/env && $(VENV)/bin/pytest -x -q

bench: setup infra
	@source .infra/env && $(VENV)/bin/python -m bench.run

schemas: setup
	@$(VENV)/bin/livecast-schemas schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
