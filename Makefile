# The two commands of the README, and a few for developers. Everything runs from the venvs under
# .venv/ and keeps Airflow's state under .airflow/ (both git-ignored).

AIRFLOW_VERSION ?= 3.3.2
TEST_AIRFLOW_VERSIONS ?= 3.3.2 2.11.2
PORT ?= 8080
NAME ?=

.PHONY: run test test-one bench lint venv clean help

help:
	@echo "make run            start Airflow $(AIRFLOW_VERSION) with the platform on http://localhost:$(PORT)"
	@echo "make test           run the whole suite against Airflow $(TEST_AIRFLOW_VERSIONS)"
	@echo "make bench [NAME=]  run the benchmarks in bench/ (one with NAME=query_overhead)"
	@echo "make lint           ruff + mypy"

run:
	@AIRFLOW_VERSION=$(AIRFLOW_VERSION) PORT=$(PORT) bash scripts/run.sh

test:
	@TEST_AIRFLOW_VERSIONS="$(TEST_AIRFLOW_VERSIONS)" bash scripts/test.sh $(PYTEST_ARGS)

bench:
	@AIRFLOW_VERSION=$(AIRFLOW_VERSION) bash scripts/bench.sh $(NAME)

lint:
	@bash scripts/venv.sh $(AIRFLOW_VERSION) >/dev/null
	.venv/airflow-$(AIRFLOW_VERSION)/bin/ruff check src tests bench dags_examples
	.venv/airflow-$(AIRFLOW_VERSION)/bin/ruff format --check src tests bench dags_examples
	.venv/airflow-$(AIRFLOW_VERSION)/bin/mypy

venv:
	@bash scripts/venv.sh $(AIRFLOW_VERSION)

clean:
	rm -rf .venv .airflow build dist src/*.egg-info
