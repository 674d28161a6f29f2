# fb-commerce pipelines: `make demo` and `make test` work from a fresh clone; nothing else is needed by hand.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Airflow and the project keep everything under the (git-ignored) .airflow and data folders of the repo.
export AIRFLOW_HOME ?= $(CURDIR)/.airflow/home
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export FB_COMMERCE_DATA_DIR ?= $(CURDIR)/data
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast lint install airflow-init airflow sandbox check bench constraints clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	@# setuptools leaves a copy of the package's metadata in plugins/, which is on sys.path: Airflow would see the
	@# package twice and load its plugin twice (the second time as an import error). The installed copy is enough.
	@rm -rf plugins/*.egg-info
	@touch $(STAMP)

# Migrates Airflow's metadata DB (AIRFLOW_HOME), sets the fb_graph_api pool, stores the connections
# fb_commerce_default and fb_commerce_warehouse in that DB (from $AIRFLOW_CONN_<ID> when set, else the sandbox at
# 127.0.0.1:8765 and the SQLite file $(FB_COMMERCE_DATA_DIR)/warehouse.db; a rerun updates them) and migrates the
# warehouse schema.
airflow-init: install
	@$(BIN)/fb-commerce airflow-init

demo: airflow-init
	@$(BIN)/fb-commerce demo

# The Airflow UI on http://127.0.0.1:$(PORT) with every service (api-server, scheduler, dag-processor, triggerer)
# and the sandbox, in the same AIRFLOW_HOME, data folder and warehouse as `make demo`; prints how to log in.
# Ctrl-C stops them all. It runs airflow-init itself first.
PORT ?= 8080
airflow: install
	@$(BIN)/fb-commerce airflow --port $(PORT)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The unit tests alone: no sandbox, no database server, no Airflow run (well under a minute).
test-fast: install
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

# Style, common bugs and types, as .ci/run and the pre-commit hook run them.
lint: install
	$(BIN)/ruff check plugins dags tests bench
	$(BIN)/ruff format --check plugins dags tests bench
	$(BIN)/mypy

sandbox: install
	$(BIN)/fb-commerce sandbox

check: airflow-init
	$(BIN)/fb-commerce check

bench: install
	$(BIN)/python bench/parse_time.py
	$(BIN)/python bench/feed.py
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/orders.py --latency

# Regenerate constraints.txt from a clean venv (run after changing requirements*.txt).
constraints:
	rm -rf /tmp/fb-commerce-constraints-venv
	$(PYTHON) -m venv /tmp/fb-commerce-constraints-venv
	/tmp/fb-commerce-constraints-venv/bin/pip install -q -r requirements-dev.txt
	/tmp/fb-commerce-constraints-venv/bin/pip freeze --exclude-editable | grep -v '^fb-commerce-pipelines' > constraints.txt

clean:
	rm -rf .airflow data
