# The project's vocabulary. Everything installs itself on first use: a fresh clone needs
# only python3 (3.11+) and, for `make deploy`, node.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY   := .venv/bin/python
UV   := .tools/bin/uv
ENV  ?= dev
PORT ?= $(or $(OMS_PORT),8080)

export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install up demo bench test faults test-app test-infra lint synth openapi oms redrive deploy diff clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==0.13.8

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

install: .venv/.synced ## create .venv with the locked dependencies

up: install ## synthesize the local stack, deploy it into the embedded cloud, seed it, serve http://127.0.0.1:$(PORT)
	$(PY) -m localcloud serve --port $(PORT)

demo: install ## start the local stack, place ~50 orders from two channels, play warehouse and store, print a summary (ORDERS=50, KEEP=1 keeps serving)
	$(PY) -m localcloud.demo --orders $(or $(ORDERS),50) $(if $(KEEP),--keep --port $(PORT))

bench: install ## performance and cost on the local cloud: bench/results.json, bench/results.png and a table (QUICK=1: a handful of orders)
	$(PY) -m bench $(if $(QUICK),--quick)

test: install ## every test tier: unit, local cloud, integration, end-to-end, the fault matrix (on a stack of its own), infrastructure
	$(PY) -m pytest tests/unit tests/localcloud tests/integration tests/e2e -m "not faults"
	$(PY) -m pytest tests/e2e/faults -m faults
	$(PY) -m pytest tests/infra

faults: install ## the fault-injection matrix alone, on a local stack of its own (tests/e2e/faults; part of make test)
	$(PY) -m pytest tests/e2e/faults -m faults

test-app: install ## all tiers except infrastructure (no CDK/jsii) and the fault matrix
	$(PY) -m pytest tests/unit tests/localcloud tests/integration tests/e2e -m "not faults"

test-infra: install ## CDK assertions, cdk-nag, cfn-lint
	$(PY) -m pytest tests/infra

lint: install ## ruff, mypy --strict on functions/core
	$(PY) -m ruff check .
	$(PY) -m mypy functions oms

synth: install ## synthesize all four environments into cdk.out/ (runs cdk-nag)
	$(PY) -m infra.synth --env all --out cdk.out

openapi: install ## regenerate the committed OpenAPI document
	$(PY) -m functions.openapi_doc

oms: install ## the operator command line: make oms ARGS="keys list" (ARGS="--env dev keys rotate --principal shop-1")
	.venv/bin/oms $(ARGS)

redrive: install ## replay dead-lettered messages: make redrive ENV=local|dev|staging|prod [QUEUE=name] (lists, then redrives)
	.venv/bin/oms --env $(ENV) redrive $(if $(QUEUE),--queue $(QUEUE))

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deploy: install node_modules/.installed ## deploy one environment: make deploy ENV=dev|staging|prod (needs AWS credentials)
	npx cdk deploy -c env=$(ENV) Oms-$(ENV) --require-approval broadening

diff: install node_modules/.installed ## compare an environment with what is deployed: make diff ENV=prod
	npx cdk diff -c env=$(ENV) Oms-$(ENV)

clean: ## remove build output and caches (keeps .venv)
	rm -rf cdk.out .cache .pytest_cache .ruff_cache .mypy_cache
