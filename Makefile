# The README's two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# Where PYTHONDONTWRITEBYTECODE=1 is set (this machine and its CI), Python never caches what it compiles: every
# `tgo` process compiled every module again, ~8 s of CPU each (the suite starts hundreds). The bytecode is
# compiled once at install instead: the dependencies by uv, the project's own source by compileall (it rewrites
# only what changed).
export UV_COMPILE_BYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install dev setup lint typecheck pytest reliability bench clean

$(UV):
	@echo "uv not found: bootstrapping it with pip into .tools/"
	$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv==0.13.9

install: $(UV)
	$(UV) sync --frozen --no-dev --inexact
	.venv/bin/python -m compileall -q src

dev: $(UV)
	$(UV) sync --frozen
	.venv/bin/python -m compileall -q src

# Services, chromium, wrk and Jasmin's venv for the tests and benchmarks (idempotent, quick when present).
setup:
	bash scripts/setup.sh

run: install
	.venv/bin/tgo migrate
	.venv/bin/tgo demo --base-url http://demo.localhost:$(PORT)
	.venv/bin/tgo serve --host $(HOST) --port $(PORT)

lint: dev
	.venv/bin/ruff check src tests bench migrations
	.venv/bin/ruff format --check src tests bench migrations

typecheck: dev
	.venv/bin/mypy

# Two pytest-xdist workers (the machine and CI have 2 cores; half of a test's time is waiting on the database,
# the broker or a subprocess): each file runs whole on one worker (--dist loadfile keeps a module's shared
# fixtures and its tests' order), each worker with its own PostgreSQL database, live server, ports and queues.
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

pytest: dev setup
	.venv/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Ruff, mypy and pytest side by side once the environment and services are set up (mypy's minute on one
# core overlaps pytest's waits); make test fails when any of them does. No --output-sync: it would hold
# pytest's output back until pytest ends, and a hung run would show nothing.
test: dev setup
	$(MAKE) --no-print-directory -j3 lint typecheck pytest

reliability: dev setup
	.venv/bin/pytest -m reliability -o addopts="-ra --strict-markers" tests/reliability

bench: dev setup
	.venv/bin/python -m bench.run

clean:
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
