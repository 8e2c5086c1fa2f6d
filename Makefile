# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests check our requests against the vendors' specs in ../shared/vendor when that folder exists (or
# wherever SAV_BRIDGE_VENDOR_DIR already points; .ci/run sets it and fails if it is missing). Without it
# those checks are off and the pytest header says so in one line.
ifeq ($(origin SAV_BRIDGE_VENDOR_DIR),undefined)
ifneq ($(wildcard ../shared/vendor/.),)
export SAV_BRIDGE_VENDOR_DIR := $(abspath ../shared/vendor)
endif
endif

.PHONY: demo console test lint typecheck bench install clean serve screenshots

# Every helpdesk plugin in adapters/ is installed; a plugin folder removed is simply not (the core's tests
# do not need it).
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard adapters/*/pyproject.toml))

$(STAMP): pyproject.toml $(wildcard adapters/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

install: $(STAMP)

# `make demo HELPDESK=freshdesk` plays the same story on another installed plugin.
HELPDESK ?= zendesk
demo: $(STAMP)
	$(BIN)/sav-bridge demo --helpdesk $(HELPDESK)

# The compliance console on the data `make demo` kept (sandbox), with demo tokens to sign in.
console: $(STAMP)
	$(BIN)/sav-bridge demo --console

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check sav_bridge adapters tests bench
	$(BIN)/ruff format --check sav_bridge adapters tests bench

# Refreshes docs/*.png from the browser tests (Debian's chromium; without it this fails, not skips). A
# plain `make test` leaves them alone.
screenshots: $(STAMP)
	SAV_BRIDGE_TEST_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

typecheck: $(STAMP)
	$(BIN)/mypy sav_bridge $(patsubst %/__init__.py,%,$(wildcard adapters/*/sav_bridge_*/__init__.py))

# Benchmarks print ratios against a baseline measured in the same run (Presidio, installed here; a bare
# Starlette endpoint for ingest, which also runs on PostgreSQL when SAV_BRIDGE_TEST_DATABASE_URL is set).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.policy_throughput
	$(BIN)/python -m bench.policy_quality
	$(BIN)/python -m bench.ingest_throughput
	$(BIN)/python -m bench.replica_drain
	$(BIN)/python -m bench.claim_scaling

serve: $(STAMP)
	$(BIN)/sav-bridge serve

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The image's third-party packages (requirements.lock), pinned with hashes for Python 3.11 on every platform
# (Linux x86_64 and aarch64 included), from deploy/requirements.in. uv comes from PyPI into .venv.
# Existing pins are kept while still allowed; `make lock LOCK_FLAGS=--upgrade` moves all to the newest.
UV_VERSION ?= 0.13.8
LOCK_FLAGS ?=
.PHONY: lock
lock: $(STAMP)
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes $(LOCK_FLAGS) \
		--no-emit-package sav-bridge --no-emit-package sav-bridge-zendesk --no-emit-package sav-bridge-freshdesk \
		--no-emit-package sav-bridge-salesforce \
		--custom-compile-command 'make lock' deploy/requirements.in -o requirements.lock
