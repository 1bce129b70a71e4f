"""The export task's work with its real parts: the demo warehouse (DuckDB), a DuckDB connection
from Airflow's connections, files written through the local file system and Airflow's object
storage. No metadata DB is needed here, as none is allowed inside an Airflow 3 task."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from airflow_platform import compat
from airflow_platform.analytics.access import open_for_writing
from airflow_platform.demo.warehouse import seed
from airflow_platform.exceptions import PermissionDeniedError, ValidationError
from airflow_platform.exports import destinations
from airflow_platform.exports.run import RunDates, export, parameter_values, run_dates, write_rows
from airflow_platform.operators.saved_query_export import SavedQueryExportOperator

REVENUE = (
    "SELECT region, count(*) AS orders, sum(total_amount) AS revenue FROM gold.fact_orders "
    "WHERE order_date >= :start_date AND order_date < :run_date GROUP BY region ORDER BY region"
)
DATES = RunDates(
    run_date=date(2024, 3, 15),
    logical_date=datetime(2024, 3, 15, 8, tzinfo=timezone.utc),
    data_interval_start=datetime(2024, 3, 14, 8, tzinfo=timezone.utc),
    data_interval_end=datetime(2024, 3, 15, 8, tzinfo=timezone.utc),
)


#: What the revenue query answers for March 1-14 (read before any export opens the file).
EXPECTED: list[tuple[Any, ...]] = []


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("export-wh") / "warehouse.duckdb")
    seed(path)
    with open_for_writing(path) as con:
        con.execute("CREATE SCHEMA team_x; CREATE TABLE team_x.private AS SELECT 42 AS secret")
        params = {"start_date": date(2024, 3, 1), "run_date": date(2024, 3, 15)}
        EXPECTED[:] = con.execute(REVENUE.replace(":", "$"), params).fetchall()
    return path


@pytest.fixture
def root(tmp_path: Path, warehouse: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "exports"
    monkeypatch.setenv("AIRFLOW__PLATFORM__WAREHOUSE_PATH", warehouse)
    monkeypatch.setenv("AIRFLOW__PLATFORM__EXPORT_ALLOWED_PATHS", str(folder))
    return folder


def spec(root: Path, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "spec_version": 1,
        "dag_id": "saved_query__sq_0123456789abcdef",
        "saved_query_id": "sq_0123456789abcdef",
        "name": "Revenue by Region",
        "slug": "revenue-by-region",
        "query": REVENUE,
        "database": "warehouse",
        "allowed_schemas": ["bronze", "gold", "silver"],
        "parameters": [
            {"name": "start_date", "type": "date", "default": "2024-03-01", "required": True},
            {"name": "run_date", "type": "date", "default": None, "required": True},
        ],
        "schedule": "@daily",
        "output_format": "csv",
        "destination": f"file://{root}/daily",
        "tenant_id": None,
    }
    return {**base, **changes}


def test_csv_export_with_defaults_and_the_run_date(root: Path, warehouse: str) -> None:
    written = export(spec(root), DATES)
    path = root / "daily" / "revenue-by-region_2024-03-15.csv"
    assert written["uri"] == f"file://{path}" and written["format"] == "csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    want = EXPECTED
    assert written["rows"] == len(rows) == len(want) == 4
    assert [(r["region"], int(r["orders"]), float(r["revenue"])) for r in rows] == [
        (region, orders, float(revenue)) for region, orders, revenue in want
    ]
    assert written["bytes"] == path.stat().st_size
    assert [p.name for p in (root / "daily").iterdir()] == [path.name]  # no temporary file left


def test_parquet_and_json_exports(root: Path, warehouse: str) -> None:
    export(spec(root, output_format="parquet"), DATES)
    table = pq.read_table(root / "daily" / "revenue-by-region_2024-03-15.parquet")
    assert table.column_names == ["region", "orders", "revenue"] and table.num_rows == 4
    assert str(table.schema.field("revenue").type).startswith("decimal")
    export(spec(root, output_format="json"), DATES)
    document = json.loads((root / "daily" / "revenue-by-region_2024-03-15.json").read_text())
    assert [(d["region"], d["orders"]) for d in document] == [(r[0], r[1]) for r in EXPECTED]


def test_run_parameters_typed_as_declared() -> None:
    declared = [
        {"name": "run_date", "type": "date"},
        {"name": "logical_date", "type": "timestamp"},
        {"name": "data_interval_start", "type": "string"},
        {"name": "data_interval_end", "type": "date"},
        {"name": "region", "type": "string", "default": "EMEA"},
        {"name": "optional", "type": "integer"},
    ]
    values = parameter_values(declared, DATES)
    assert values == {
        "run_date": date(2024, 3, 15),
        "logical_date": datetime(2024, 3, 15, 8, tzinfo=timezone.utc),
        "data_interval_start": "2024-03-14T08:00:00+00:00",
        "data_interval_end": date(2024, 3, 15),
        "region": "EMEA",
        "optional": None,
    }
    # A run without data interval (an Airflow 3 manual run) falls back to the default.
    bare = parameter_values([{"name": "data_interval_start", "type": "date", "default": "2024-01-01"}],
                            RunDates(run_date=date(2024, 3, 15)))  # fmt: skip
    assert bare == {"data_interval_start": date(2024, 1, 1)}
    with pytest.raises(ValidationError, match=":needed"):
        parameter_values([{"name": "needed", "type": "string", "required": True}], DATES)


def test_run_dates_from_a_task_context() -> None:
    logical = datetime(2024, 3, 15, 8, tzinfo=timezone.utc)
    got = run_dates({"logical_date": logical, "data_interval_start": logical, "data_interval_end": logical})
    assert got.run_date == date(2024, 3, 15) and got.logical_date == logical
    # No logical date (Airflow 3 may trigger without one): dated by when the run was due.
    due = datetime(2024, 5, 2, 23, 30, tzinfo=timezone.utc)
    assert run_dates({"dag_run": SimpleNamespace(run_after=due)}).run_date == date(2024, 5, 2)


def test_the_guard_and_the_tenant_schemas_hold_in_the_task(root: Path) -> None:
    with pytest.raises(ValidationError, match=r"read-only|not allowed|refused"):
        export(spec(root, query="DELETE FROM gold.fact_orders", parameters=[]), DATES)
    walled = spec(root, query="SELECT secret FROM team_x.private", parameters=[], allowed_schemas=["gold"])
    with pytest.raises(ValidationError, match="team_x"):
        export(walled, DATES)
    with pytest.raises(ValidationError, match=r"read_csv|not allowed|refused"):
        export(spec(root, query="SELECT * FROM read_csv('/etc/passwd')", parameters=[]), DATES)
    assert not (root / "daily").exists()


def test_the_destination_is_checked_again_when_writing(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="only go under"):
        export(spec(root, destination=f"file://{tmp_path}/elsewhere"), DATES)
    with pytest.raises(ValidationError, match="team-a"):
        export(spec(root, tenant_id="team-a"), DATES)  # a tenant's exports stay in its folder
    export(spec(root, tenant_id="team-a", destination=f"file://{root}/team-a/daily"), DATES)
    assert (root / "team-a" / "daily" / "revenue-by-region_2024-03-15.csv").is_file()


def test_too_many_rows_writes_nothing(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__ANALYTICS_MAX_ROWS", "3")
    with pytest.raises(ValidationError, match="more than 3 rows"):
        export(spec(root), DATES)
    assert not (root / "daily" / "revenue-by-region_2024-03-15.csv").exists()


def test_a_duckdb_connection_through_its_hook(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales AS SELECT range AS id, range * 2 AS amount FROM range(10)")
    monkeypatch.setenv("AIRFLOW_CONN_EXPORT_SHOP", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    shop = spec(
        root,
        database="export_shop",
        allowed_schemas=None,
        parameters=[{"name": "min", "type": "integer", "default": 7}],
        query="SELECT id, amount FROM sales WHERE id >= :min ORDER BY id",
    )
    written = export(shop, DATES)
    assert written["rows"] == 3
    text = (root / "daily" / "revenue-by-region_2024-03-15.csv").read_text()
    assert text.splitlines() == ['"id","amount"', "7,14", "8,16", "9,18"]
    # A connection may not point at the platform's own files (here: the metadata DB).
    metadata_db = compat.sql_alchemy_conn().split(":///", 1)[-1]
    monkeypatch.setenv("AIRFLOW_CONN_EXPORT_META", json.dumps({"conn_type": "duckdb", "host": metadata_db}))
    with pytest.raises(PermissionDeniedError, match="platform itself"):
        export({**shop, "database": "export_meta"}, DATES)


def test_writing_through_airflow_object_storage(tmp_path: Path) -> None:
    """The path remote destinations (s3://) take: Airflow's ObjectStoragePath, here on file://."""
    import pyarrow as pa

    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    target = destinations.Destination(uri=f"file://{tmp_path}", scheme="s3")  # take the remote branch
    uri, size = write_rows(target, "t_2024-01-01.csv", "csv", table)
    assert uri == f"file://{tmp_path}/t_2024-01-01.csv"
    assert (tmp_path / "t_2024-01-01.csv").read_text().splitlines() == ['"a","b"', '1,"x"', '2,"y"']
    assert size == (tmp_path / "t_2024-01-01.csv").stat().st_size


def test_the_operator_fails_for_good_on_mistakes_and_returns_what_it_wrote(root: Path) -> None:
    _, fail_for_good = compat.task_exceptions()
    context = {"logical_date": DATES.logical_date, "data_interval_start": DATES.data_interval_start,
               "data_interval_end": DATES.data_interval_end}  # fmt: skip
    written = SavedQueryExportOperator(task_id="export", spec=spec(root)).execute(context)
    assert written["rows"] == 4 and written["uri"].endswith("revenue-by-region_2024-03-15.csv")
    bad = SavedQueryExportOperator(task_id="export", spec=spec(root, query="DROP TABLE gold.fact_orders"))
    with pytest.raises(fail_for_good, match="VALIDATION_ERROR"):
        bad.execute(context)
