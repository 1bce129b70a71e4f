"""The example DataKit (``datakits_examples/customer_cleanse``) and the reference's example DAG.

The image is built by the kit's own ``build.sh`` on the local engine (once per session, cached),
then run by DataKitOperator against a small seeded ``bronze.customers_raw`` with the columns the
analytics demo seed uses. The DAG ``bronze_to_silver_pipeline`` is parsed with no metadata DB and
run with ``dag.test()`` on the session's Airflow.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
import yaml

from airflow_platform import compat
from airflow_platform.operators import DataKitOperator
from tests import harness
from tests.datakits.docker_images import EXAMPLE_IMAGE, EXAMPLE_KIT
from tests.datakits.task_log import task_log

DAG_FILE = harness.REPO / "dags_examples" / "bronze_to_silver_pipeline.py"
TaskFailed, _ = compat.task_exceptions()

SEED = [
    (1, "  Ann Lee ", "ANN@X.COM", "us", "2015-03-01", "2024-01-01 10:00:00"),
    (1, "Ann  Lee", "Ann.New@X.com", "us", "2015-03-01", "2024-02-01 10:00:00"),  # latest of 1
    (2, "Bob", None, "de", "2012-01-01", "2024-01-01 00:00:00"),  # latest of 2 has no e-mail
    (2, "Bob", "bob@x.de", "de", "2012-01-01", "2023-01-01 00:00:00"),
    (3, " Old Timer", "OLD@x.com", "fr", "1999-12-31", "2024-01-01 00:00:00"),  # signed up before 2000
    (4, "Dee ", "Dee@Y.org", "gb", "2021-06-15", "2024-01-05 00:00:00"),
    (5, "Eve", "EVE@Z.io", "se", "2010-02-02", "2024-03-01 00:00:00"),
    (5, "Eve Old", "eve@old.io", "se", "2010-02-02", "2022-03-01 00:00:00"),
]
EXPECTED = [
    (1, "Ann  Lee", "ann.new@x.com", "US", date(2015, 3, 1), datetime(2024, 2, 1, 10, 0)),
    (4, "Dee", "dee@y.org", "GB", date(2021, 6, 15), datetime(2024, 1, 5)),
    (5, "Eve", "eve@z.io", "SE", date(2010, 2, 2), datetime(2024, 3, 1)),
]


def seed(path: str) -> None:
    with duckdb.connect(path) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS bronze")
        con.execute(
            "CREATE TABLE bronze.customers_raw (customer_id INTEGER, full_name VARCHAR, email VARCHAR, "
            "country VARCHAR, signup_date VARCHAR, updated_at TIMESTAMP)"
        )
        con.executemany("INSERT INTO bronze.customers_raw VALUES (?, ?, ?, ?, ?, ?)", SEED)


def silver(path: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute("SELECT * FROM silver.customers ORDER BY customer_id").fetchall()


def manifest() -> dict[str, Any]:
    from airflow_platform.schemas.datakits import DataKitManifest

    raw = yaml.safe_load((EXAMPLE_KIT / "datakit.yaml").read_text())
    return DataKitManifest.model_validate(raw).canonical()


@pytest.fixture
def kit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A seeded warehouse and a registry folder holding customer-cleanse 1.0.0, as [platform] config."""
    from airflow_platform.datakits import files

    env = {
        "AIRFLOW__PLATFORM__WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "AIRFLOW__PLATFORM__DATAKITS_FOLDER": str(tmp_path / "registry"),
        "AIRFLOW__PLATFORM__DATAKIT_WORK_DIR": str(tmp_path / "work"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    files.write_manifest(manifest(), env["AIRFLOW__PLATFORM__DATAKITS_FOLDER"])
    seed(env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"])
    return env


# --- the kit --------------------------------------------------------------------------------------


def test_manifest_is_the_registered_shape() -> None:
    m = manifest()
    assert (m["name"], m["version"], m["image"], m["type"]) == (
        "customer-cleanse",
        "1.0.0",
        EXAMPLE_IMAGE,
        "transformation",
    )
    assert m["inputs"][0]["schema"] == "bronze" and m["outputs"][0]["schema"] == "silver"
    assert m["configuration"]["min_signup_year"]["default"] == 2000
    assert m["requirements"]["cpu"] == "500m" and m["requirements"]["memory"] == "512Mi"


@pytest.mark.docker
def test_build_is_idempotent(example_kit_image: str) -> None:
    again = subprocess.run(
        ["bash", str(EXAMPLE_KIT / "build.sh")], capture_output=True, text=True, check=True, timeout=120
    )
    assert "is up to date" in again.stderr


@pytest.mark.docker
def test_kit_cleans_customers(example_kit_image: str, kit_env: dict[str, str]) -> None:
    warehouse = kit_env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]
    op = DataKitOperator(
        task_id="transform_to_silver",
        datakit="customer-cleanse",
        version="1.0.0",
        inputs={"customers": "bronze.customers_raw"},
        outputs={"customers": "silver.customers"},
    )
    with task_log() as log:
        result = op.execute({"run_id": "manual__example", "dag_run": SimpleNamespace(conf={})})
    assert result["outputs"] == [{"name": "customers", "table": "silver.customers", "rows": 3}]
    assert silver(warehouse) == EXPECTED
    with duckdb.connect(warehouse, read_only=True) as con:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'silver' AND table_name = 'customers' ORDER BY ordinal_position"
        ).fetchall()
    assert columns == [
        ("customer_id", "INTEGER"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("country", "VARCHAR"),
        ("signup_date", "DATE"),
        ("updated_at", "TIMESTAMP"),
    ]
    text = log.text()
    assert "customer-cleanse 1.0.0: run manual__example" in text
    assert "output_rows = 3" in text


@pytest.mark.docker
def test_min_signup_year_from_the_run_conf(example_kit_image: str, kit_env: dict[str, str]) -> None:
    op = DataKitOperator(
        task_id="t",
        datakit="customer-cleanse",
        version="1.0.0",
        inputs={"customers": "bronze.customers_raw"},
        outputs={"customers": "silver.customers"},
    )
    op.execute({"run_id": "r", "dag_run": SimpleNamespace(conf={"min_signup_year": 2011})})
    assert [row[0] for row in silver(kit_env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"])] == [1, 4]


# --- the example DAG ------------------------------------------------------------------------------

_PARSE = """
import json, runpy, sys
dag = runpy.run_path(sys.argv[1])["transform_to_silver"].dag
print(json.dumps({
    "dag_id": dag.dag_id, "description": dag.description, "tags": sorted(dag.tags),
    "owner": dag.owner, "catchup": dag.catchup, "tasks": sorted(dag.task_ids),
    "schedule": getattr(dag.timetable, "expression", None) or getattr(dag.timetable, "_expression", None),
    "downstream": sorted(dag.get_task("validate_source_data").downstream_task_ids),
}))
"""


def test_dag_parses_without_the_metadata_db(tmp_path: Path) -> None:
    # A metadata DB that cannot be opened: any access at parse time would fail the import.
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing-dir/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run(
        [sys.executable, "-c", _PARSE, str(DAG_FILE)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    parsed = json.loads(out.stdout.strip().splitlines()[-1])
    assert parsed == {
        "dag_id": "bronze_to_silver_pipeline",
        "description": "ETL pipeline from bronze to silver layer",
        "tags": ["etl", "production"],
        "owner": "data-team",
        "catchup": False,
        "tasks": ["transform_to_silver", "validate_source_data"],
        "schedule": "0 0 * * *",
        "downstream": ["transform_to_silver"],
    }


def _dag() -> Any:
    return runpy.run_path(str(DAG_FILE))["transform_to_silver"].dag


def test_validation_refuses_a_missing_or_empty_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("AIRFLOW__PLATFORM__WAREHOUSE_PATH", str(path))
    validate = _dag().get_task("validate_source_data").python_callable
    with pytest.raises(RuntimeError, match=r"bronze\.customers_raw does not exist in the warehouse"):
        validate()
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA bronze; CREATE TABLE bronze.customers_raw (customer_id INTEGER)")
    with pytest.raises(RuntimeError, match=r"bronze\.customers_raw is empty"):
        validate()


@pytest.mark.docker
def test_dag_runs_with_dag_test(example_kit_image: str, kit_env: dict[str, str], airflow_home: Path) -> None:
    dag = _dag()
    run = dag.test(run_conf={"min_signup_year": 2000})
    assert str(getattr(run.state, "value", run.state)) == "success"
    assert silver(kit_env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]) == EXPECTED
