# livecast: every target installs what it needs (uv, the virtualenv, RabbitMQ, MongoDB).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

PY_PACKAGES := contracts servicekit testkit mux_sim stream_svc viewer_svc chat_gateway webhook_ingest notifier bench
VENV := .venv
UV := scripts/uv.sh

.PHONY: help setup infra infra-down test test-fast lint typecheck format bench run demo token e2e schemas types asyncapi clean

help:
	@echo "make run      - run the whole system locally (gateway on http://127.0.0.1:8080)"
	@echo "make test     - lint, typecheck and every test layer this machine can run"
	@echo "make bench    - run every benchmark under bench/ and write bench/results/"
	@echo "make lint     - ruff + mypy"
	@echo "make demo     - a scripted walk through the product against a running 'make run'"
	@echo "make token ACCOUNT=alice - a local bearer token for the running stack"

setup: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	@$(UV) sync --all-packages --locked --quiet
	@touch $@

infra: setup
	@python3 scripts/infra.py up --tools

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
	@echo "make test: end-to-end and browser tests against the stack started as 'make run' starts it"
	@source .infra/env && $(VENV)/bin/pytest -m "e2e or browser"

test-fast: setup infra
	@source .infra/env && $(VENV)/bin/pytest -x -q

run: setup
	@$(VENV)/bin/python scripts/stack.py

demo: setup
	@$(VENV)/bin/python scripts/demo.py

# a local bearer token: make token ACCOUNT=alice
token: setup
	@AUTH_JWT_SECRET_FILE=$${AUTH_JWT_SECRET_FILE:-.infra/secrets/jwt_secret} $(VENV)/bin/python -m servicekit.auth mint $${ACCOUNT:-alice}

e2e: setup infra
	@source .infra/env && $(VENV)/bin/pytest -m "e2e or browser"

bench: setup infra
	@source .infra/env && $(VENV)/bin/python -m bench.run

schemas: setup
	@$(VENV)/bin/livecast-schemas schemas

# regenerate clients/types/api.ts from the contracts (tests fail while it is stale)
types: setup
	@$(VENV)/bin/python scripts/gen_types.py

# regenerate docs/asyncapi.yaml (exchanges, routing keys, payloads) from the code
asyncapi: setup
	@$(VENV)/bin/python scripts/gen_asyncapi.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
