"""``airflow-cli analytics`` in-process against a respx-mocked server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from tests.cli.conftest import Invoke
from tests.cli.test_cli import one_line_error
from tests.sdk.fakes import envelope, paged, query_result

QUERY = "/api/v1/analytics/query"
QID = "q_123456789"

pytestmark = pytest.mark.usefixtures("configured")


def test_query_table_with_typed_params(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(QUERY).respond(json=query_result())
    result = invoke(
        "analytics", "query", "SELECT * FROM gold.dim_customer WHERE d >= :start AND n > :n AND s = :s",
        "--param", "start:date=2024-01-01", "--param", "n=5", "--param", "s=2024-01-01", "--limit", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(route.calls.last.request.content)["parameters"] == {
        "start": {"type": "date", "value": "2024-01-01"},
        "n": 5,
        "s": "2024-01-01",
    }
    assert "Diamond" in result.stdout and "customer_count" in result.stdout
    assert f"Query {QID}: 1 rows, 245 ms." in result.stderr


def test_query_json_and_csv_to_file_and_stdout(invoke: Invoke, api: respx.MockRouter, tmp_path: Path) -> None:
    api.post(QUERY).respond(json=query_result())
    download = api.get(f"{QUERY}/{QID}").respond(content=b"customer_segment,customer_count\nDiamond,127\n")
    document = json.loads(invoke("analytics", "query", "SELECT 1", "--format", "json").stdout)
    assert document["query_id"] == QID and document["metadata"]["tables_accessed"] == ["dim_customer"]
    as_csv = invoke("analytics", "query", "SELECT 1", "--format", "csv")
    assert as_csv.exit_code == 0 and as_csv.stdout == "customer_segment,customer_count\nDiamond,127\n"
    assert download.calls.last.request.url.params["format"] == "csv"
    target = tmp_path / "rows.csv"
    written = invoke("analytics", "query", "SELECT 1", "-f", "csv", "--output", str(target))
    assert written.exit_code == 0 and target.read_text().startswith("customer_segment")
    assert f"Wrote {target}" in written.stderr


def test_query_reads_sql_from_stdin_and_file(invoke: Invoke, api: respx.MockRouter, tmp_path: Path) -> None:
    route = api.post(QUERY).respond(json=query_result())
    assert invoke("analytics", "query", "-", input="SELECT 42\n").exit_code == 0
    assert json.loads(route.calls.last.request.content)["query"] == "SELECT 42"
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT 7")
    assert invoke("analytics", "query", "--file", str(sql)).exit_code == 0
    assert json.loads(route.calls.last.request.content)["query"] == "SELECT 7"


def test_bad_usage_is_refused_before_any_request(invoke: Invoke, api: respx.MockRouter) -> None:
    assert invoke("analytics", "query").exit_code == 2
    assert invoke("analytics", "query", "SELECT 1", "--param", "noequals").exit_code == 2
    assert invoke("analytics", "query", "SELECT 1", "--param", "d:weird=1").exit_code == 2
    assert invoke("analytics", "query", "SELECT 1", "--format", "parquet").exit_code == 2
    assert invoke("analytics", "query", "SELECT 1", "--output", "x.txt").exit_code == 2
    assert not api.calls


def test_refused_and_failed_queries_are_one_line(invoke: Invoke, api: respx.MockRouter) -> None:
    api.post(QUERY).mock(
        return_value=envelope("VALIDATION_ERROR", "Only read-only statements are allowed (found DROP).", 400)
    )
    one_line_error(invoke("analytics", "query", "DROP TABLE x"), "Error: VALIDATION_ERROR: Only read-only")
    api.post(QUERY).respond(json=query_result(status="running", data=None))
    api.get(f"{QUERY}/{QID}").mock(
        side_effect=[
            httpx.Response(200, json=query_result(status="running", data=None)),
            httpx.Response(
                200,
                json=query_result(
                    status="failed", data=None, error={"code": "SERVICE_UNAVAILABLE", "message": "Timed out."}
                ),
            ),
        ]
    )
    one_line_error(invoke("analytics", "query", "SELECT 1"), "Error: SERVICE_UNAVAILABLE: Timed out.")


def test_async_submit_status_results_cancel(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(QUERY).respond(json=query_result(status="queued", data=None))
    submitted = invoke("analytics", "query", "SELECT 1", "--async")
    assert submitted.exit_code == 0 and submitted.stdout == f"{QID}\n"
    assert json.loads(route.calls.last.request.content)["async"] is True
    status = api.get(f"{QUERY}/{QID}").respond(json=query_result())
    shown = invoke("analytics", "status", QID)
    assert shown.exit_code == 0 and "completed" in shown.stdout and "dim_customer" in shown.stdout
    assert status.calls.last.request.url.params["limit"] == "0"
    rows = invoke("analytics", "results", QID, "--offset", "0", "--limit", "1")
    assert rows.exit_code == 0 and "Diamond" in rows.stdout
    api.post(f"{QUERY}/{QID}/cancel").respond(json=query_result(status="cancelled", data=None))
    assert f"Cancelled {QID}." in invoke("analytics", "cancel", QID).stderr


def test_history(invoke: Invoke, api: respx.MockRouter) -> None:
    items = [
        {
            "query_id": f"q_{i}",
            "status": "completed",
            "query": "SELECT\n  1",
            "database": "warehouse",
            "rows_returned": 1,
            "submitted_at": "2024-01-15T10:30:00Z",
            "submitted_by": "alice",
        }
        for i in range(3)
    ]
    route = api.get("/api/v1/analytics/queries").mock(side_effect=paged(items, "queries"))
    result = invoke("analytics", "history", "--status", "completed", "--limit", "2")
    assert result.exit_code == 0 and "q_1" in result.stdout and "SELECT 1" in result.stdout
    assert route.calls.last.request.url.params["status"] == "completed"
    every = json.loads(invoke("analytics", "history", "--all", "--limit", "2", "-o", "json").stdout)
    assert [q["query_id"] for q in every["queries"]] == ["q_0", "q_1", "q_2"]
    assert invoke("analytics", "history", "--status", "weird").exit_code == 2


SAVED = "/api/v1/analytics/saved-queries"


def saved_query(saved_id: str = "sq_1", **extra: object) -> dict[str, object]:
    return {
        "id": saved_id,
        "name": "Monthly Revenue Report",
        "query": "SELECT 1 WHERE :start_date IS NOT NULL",
        "parameters": [{"name": "start_date", "type": "date", "default": "2024-01-01", "required": True}],
        "tags": ["revenue"],
        "schedule": "0 8 1 * *",
        "output_format": "csv",
        "destination": "file:///reports/",
        **extra,
    }


def test_saved_queries(invoke: Invoke, api: respx.MockRouter) -> None:
    create = api.post(SAVED).respond(201, json=saved_query())
    result = invoke(
        "analytics", "saved", "create", "Monthly Revenue Report",
        "--query", "SELECT 1 WHERE :start_date IS NOT NULL", "--param-def", "start_date:date=2024-01-01!",
        "--param-def", "region", "--tag", "revenue", "--schedule", "0 8 1 * *", "--output-format", "csv",
        "--destination", "file:///reports/",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(create.calls.last.request.content) == {
        "name": "Monthly Revenue Report",
        "query": "SELECT 1 WHERE :start_date IS NOT NULL",
        "parameters": [
            {"name": "start_date", "type": "date", "required": True, "default": "2024-01-01"},
            {"name": "region", "type": "string", "required": False},
        ],
        "tags": ["revenue"],
        "schedule": "0 8 1 * *",
        "output_format": "csv",
        "destination": "file:///reports/",
    }
    assert "Saved Monthly Revenue Report as sq_1." in result.stderr
    assert "start_date:date=2024-01-01!" in result.stdout
    assert (
        invoke("analytics", "saved", "create", "x", "--query", "SELECT 1", "--param-def", "a:weird").exit_code
        == 2
    )

    api.get(SAVED).respond(json={"saved_queries": [saved_query()], "total_entries": 1})
    assert "sq_1" in invoke("analytics", "saved", "list", "--tag", "revenue").stdout
    api.get(f"{SAVED}/sq_1").respond(json=saved_query())
    assert json.loads(invoke("analytics", "saved", "get", "sq_1", "-o", "json").stdout)["id"] == "sq_1"

    execute = api.post(f"{SAVED}/sq_1/execute").respond(json=query_result())
    ran = invoke("analytics", "saved", "run", "sq_1", "--param", "start_date:date=2024-02-01")
    assert ran.exit_code == 0 and "Diamond" in ran.stdout
    assert json.loads(execute.calls.last.request.content) == {
        "parameters": {"start_date": {"type": "date", "value": "2024-02-01"}}
    }

    delete = api.delete(f"{SAVED}/sq_1").respond(204)
    one_line_error(
        invoke("analytics", "saved", "delete", "sq_1"), "Error: Refusing to delete saved query sq_1"
    )
    assert invoke("analytics", "saved", "delete", "sq_1", "--yes").exit_code == 0 and delete.called
