# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests read the vendors' specs from here; CI sets it explicitly.
export SAV_BRIDGE_VENDOR_DIR ?= $(abspath ../shared/vendor)

.PHONY: demo test lint typecheck bench install clean serve

$(STAMP): pyproject.toml adapters/zendesk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e adapters/zendesk
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sav-bridge demo

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check sav_bridge adapters tests bench
	$(BIN)/ruff format --check sav_bridge adapters tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Benchmarks print ratios against a baseline measured in the same run (Presidio, installed here).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.policy_throughput
	$(BIN)/python -m bench.policy_quality

serve: $(STAMP)
	$(BIN)/sav-bridge serve

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
