# The two commands a newcomer needs: `make demo` and `make test`. Both do all the set-up, idempotently.
SHELL := /bin/bash
OS_PACKAGES := postgresql-15 postgresql-15-postgis-3 redis-server
# the browser the tests drive with Playwright (Playwright's own browser downloads are not used)
TEST_OS_PACKAGES := chromium
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-fast test-os-packages openapi docs lint bench-ledger bench-matching bench-instant bench-mobility bench-dispatch bench-pilot loadtest setup uv os-packages sync node-tools services-down clean

## Install everything, start the private PostgreSQL + PostGIS and Redis, load the Sangsalmi demo, serve the API.
demo: setup
	$(UV) run maeul demo

## Install everything, then run the whole test suite against real PostGIS and Redis (as CI does).
test: setup test-os-packages
	$(UV) run pytest

## The fast tier: everything but the tests marked `slow` (demos and servers in subprocesses, schemathesis, browser,
## load, benchmarks, backup, faults).
test-fast: setup
	$(UV) run pytest -m "not slow"

## Ledger benchmark: append throughput vs plain INSERT, proof p95 at 1,000,000 leaves -> bench/results/ledger.json
bench-ledger: setup
	$(UV) run python bench/bench_ledger.py

## Matching benchmark: OR-Tools vs greedy on village, district, city -> bench/results/matching.json
bench-matching: setup
	$(UV) run python bench/bench_matching.py

## Instant matching latency through the HTTP app vs a plain search -> bench/results/instant.json
bench-instant: setup
	$(UV) run python bench/bench_instant.py

## Fleet benchmark: telemetry ingest vs raw GEOADD + COPY, nearby p95, GBFS p95 -> bench/results/mobility.json
bench-mobility: setup
	$(UV) run python bench/bench_mobility.py

## Dispatch benchmark: the routing engines vs Li & Lim's best-known solutions and PyVRP (12 shared at 2 s and 10 s, the
## 60 training instances at 30 s) and the product's problems -> bench/results/dispatch.json (~45 min)
bench-dispatch: setup
	$(UV) run python bench/bench_dispatch.py --training bench/lilim200

## Pilot simulator: calibrate to `before`, play before/pilot/maeul over the file's seeds -> bench/results/pilot.json
bench-pilot: setup
	$(UV) run python bench/bench_pilot.py

## Load test: locust against `maeul serve` on the demo data, ratios vs a bare endpoint -> bench/results/load.json
loadtest: setup
	$(UV) run python loadtests/run.py

## Regenerate openapi.json, the API contract kept in the repository (a test fails when it is stale).
openapi: setup
	$(UV) run maeul openapi --output openapi.json

## Regenerate docs/configuration.md from the settings' descriptions (a test fails when it is stale).
docs: setup
	$(UV) run maeul settings --output docs/configuration.md

## Static checks: ruff (lint and format), mypy --strict and the import contracts (docs/architecture.md).
lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports

setup: uv os-packages sync node-tools

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || { \
	  echo "installing uv with pip"; python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv; }

os-packages:
	@if command -v dpkg >/dev/null 2>&1; then \
	  missing=""; for p in $(OS_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	      echo "installing OS packages:$$missing"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    else \
	      echo "missing OS packages:$$missing"; \
	      echo "  install them as root:  sudo apt-get install $(OS_PACKAGES)"; exit 1; \
	    fi; \
	  fi; \
	elif ! command -v redis-server >/dev/null 2>&1 || ! { command -v initdb >/dev/null 2>&1 || command -v pg_config >/dev/null 2>&1; }; then \
	  echo "PostgreSQL 15 with PostGIS and Redis are needed:"; \
	  echo "  Debian/Ubuntu:  sudo apt-get install $(OS_PACKAGES)"; \
	  echo "  macOS:          brew install postgresql@15 postgis redis"; exit 1; \
	fi

## chromium for the browser tests (the API docs pages offline), with apt when missing and root
test-os-packages:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing OS packages: $(TEST_OS_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_OS_PACKAGES) >/dev/null; \
	  else echo "the browser tests need chromium:  sudo apt-get install $(TEST_OS_PACKAGES)"; exit 1; fi; }

sync:
	$(UV) sync --locked

## anvil (a real EVM JSON-RPC node) for the demo's chain and the anchoring tests, pinned in package-lock.json
node-tools:
	@{ [ -x node_modules/.bin/anvil ] && [ -f node_modules/leaflet/dist/leaflet.js ] && [ -f node_modules/chart.js/dist/chart.umd.js ]; } || { \
	  command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } || \
	    { echo "npm is needed for the test tools: apt-get install nodejs npm"; exit 1; }; \
	  npm ci --no-audit --no-fund --silent; }

## Stop the private PostgreSQL and Redis (data is kept under ./.maeul/).
services-down:
	$(UV) run maeul services down

## Stop the services and delete ./.maeul/ (all local data).
clean: services-down
	rm -rf .maeul
