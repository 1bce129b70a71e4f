"""``client.analytics`` against respx: execute, wait, errors, cancel, rows as Arrow, history."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import uuid
from decimal import Decimal

import httpx
import pyarrow as pa
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.sdk.fakes import BASE, envelope, paged, query_result

QUERY = "/api/v1/analytics/query"
QID = "q_123456789"
SQL = "SELECT customer_segment, COUNT(*) FROM gold.dim_customer WHERE d >= :start_date GROUP BY 1"


def sent(route: respx.Route) -> object:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def client() -> PlatformClient:
    return PlatformClient(BASE, api_key="k")


def arrow_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_query_as_the_reference_writes_it(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(QUERY).respond(json=query_result(query=SQL, parameters={"start_date": "2024-01-01"}))
    result = client.analytics.query(SQL, parameters={"start_date": "2024-01-01"})
    assert sent(route) == {"query": SQL, "parameters": {"start_date": "2024-01-01"}}
    assert result.data == [{"customer_segment": "Diamond", "customer_count": 127, "avg_ltv": 15234.56}]
    assert (result.query, result.parameters) == (SQL, {"start_date": "2024-01-01"})
    assert result.metadata.tables_accessed == ["dim_customer"] and result.metadata.schema_ == "gold"
    assert result.finished and result.succeeded and result.status == "completed"


def test_python_values_become_typed_parameters(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(QUERY).respond(json=query_result())
    key = uuid.UUID(int=1)
    client.analytics.query(
        "SELECT 1",
        parameters={
            "day": dt.date(2024, 1, 1),
            "at": dt.datetime(2024, 1, 1, 2, 30, tzinfo=dt.timezone.utc),
            "t": dt.time(8, 0),
            "amount": Decimal("12.50"),
            "id": key,
            "regions": ("eu", "us"),
            "n": 5,
        },
        database="warehouse",
        limit=10,
        timeout_seconds=5,
    )
    assert sent(route) == {
        "query": "SELECT 1",
        "database": "warehouse",
        "limit": 10,
        "timeout_seconds": 5.0,
        "parameters": {
            "day": {"type": "date", "value": "2024-01-01"},
            "at": {"type": "timestamp", "value": "2024-01-01T02:30:00+00:00"},
            "t": {"type": "time", "value": "08:00:00"},
            "amount": {"type": "decimal", "value": "12.50"},
            "id": {"type": "uuid", "value": str(key)},
            "regions": ["eu", "us"],
            "n": 5,
        },
    }


def test_a_long_query_is_polled_until_done(api: respx.MockRouter, client: PlatformClient) -> None:
    api.post(QUERY).respond(json=query_result(status="running", data=None))
    poll = api.get(f"{QUERY}/{QID}").mock(
        side_effect=[
            httpx.Response(200, json=query_result(status="running", data=None)),
            httpx.Response(200, json=query_result(status="completed")),
        ]
    )
    result = client.analytics.query("SELECT 1", limit=5000, poll_interval=0)
    assert result.status == "completed" and result.data and poll.call_count == 2
    assert poll.calls.last.request.url.params["limit"] == "5000", "polls ask for the rows the query kept"


def test_async_submit_then_wait_and_cancel(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(QUERY).respond(json=query_result(status="queued", data=None))
    api.get(f"{QUERY}/{QID}").respond(json=query_result(status="running", data=None))
    cancel = api.post(f"{QUERY}/{QID}/cancel").respond(
        json=query_result(
            status="cancelled", data=None, error={"code": "QUERY_CANCELLED", "message": "Cancelled by alice."}
        )
    )
    pending = client.analytics.query("SELECT 1", run_async=True, wait=False)
    assert sent(route)["async"] is True and pending.status == "queued" and not pending.finished
    with pytest.raises(TimeoutError, match="still queued"):
        pending.wait(timeout=0, poll_interval=0)
    pending.refresh()
    assert pending.status == "running"
    assert pending.cancel().status == "cancelled" and cancel.called
    with pytest.raises(exc.PlatformError) as caught:
        pending.raise_for_status()
    assert caught.value.code == "QUERY_CANCELLED" and caught.value.details["query_id"] == QID
    assert client.analytics.cancel(QID).status == "cancelled"


def test_failed_queries_raise_their_error(
    api: respx.MockRouter, client: PlatformClient, sleeps: list[float]
) -> None:
    refused = api.post(QUERY).mock(
        return_value=envelope("VALIDATION_ERROR", "Only read-only statements are allowed: DROP", 400)
    )
    with pytest.raises(exc.ValidationError, match="read-only"):
        client.analytics.query("DROP TABLE gold.dim_customer")
    refused.mock(return_value=envelope("SERVICE_UNAVAILABLE", "The warehouse is locked", 503))
    with pytest.raises(exc.ServiceUnavailableError):
        client.analytics.query("SELECT 1")
    assert refused.call_count == 2 and not sleeps, "running a query is never sent twice"

    api.post(QUERY).respond(json=query_result(status="running", data=None))
    api.get(f"{QUERY}/{QID}").respond(
        json=query_result(
            status="failed",
            data=None,
            error={
                "code": "SERVICE_UNAVAILABLE",
                "message": "timed out after 5 s",
                "details": {"timeout": 5},
            },
        )
    )
    with pytest.raises(exc.ServiceUnavailableError, match="timed out") as caught:
        client.analytics.query("SELECT 1", poll_interval=0)
    assert caught.value.details == {"query_id": QID, "status": "failed", "timeout": 5}


def test_client_side_checks(api: respx.MockRouter, client: PlatformClient) -> None:
    with pytest.raises(exc.ValidationError, match="parameters"):
        client.analytics.query("SELECT :x", parameters={"1x": 1})
    with pytest.raises(exc.ValidationError, match="query"):
        client.analytics.query("")
    assert not api.calls


def test_rows_as_arrow_pandas_and_csv(api: respx.MockRouter, client: PlatformClient) -> None:
    api.post(QUERY).respond(json=query_result())
    table = pa.table({"customer_segment": ["Diamond", "Gold"], "customer_count": [127, 892]})
    download = api.get(f"{QUERY}/{QID}").mock(
        side_effect=lambda request: httpx.Response(
            200,
            content=arrow_stream(table) if request.url.params["format"] == "arrow" else b"a,b\n1,2\n",
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    result = client.analytics.query("SELECT 1")
    assert result.to_arrow().equals(table)
    request = download.calls.last.request
    assert request.headers["Accept"] == "application/vnd.apache.arrow.stream"
    assert request.headers["Accept-Encoding"] == "identity", "Arrow is not gzipped by the server"
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(ImportError, match="pip install pandas"):
            result.to_pandas()
    else:
        assert list(result.to_pandas()["customer_count"]) == [127, 892]
    assert client.analytics.download(QID, format="csv") == b"a,b\n1,2\n"
    assert download.calls.last.request.headers["Accept"] == "text/csv"
    assert "identity" not in download.calls.last.request.headers.get("Accept-Encoding", "")


def test_get_pages_rows_and_history_pages_itself(api: respx.MockRouter, client: PlatformClient) -> None:
    page = api.get(f"{QUERY}/{QID}").respond(json=query_result(offset=10, limit=5))
    client.analytics.get(QID, offset=10, limit=5)
    assert dict(page.calls.last.request.url.params) == {"offset": "10", "limit": "5"}
    api.get(f"{QUERY}/q_missing").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No query q_missing", 404))
    with pytest.raises(exc.ResourceNotFoundError):
        client.analytics.get("q_missing")

    items = [
        {
            "query_id": f"q_{i}",
            "status": "completed",
            "query": "SELECT 1",
            "database": "warehouse",
            "submitted_at": "2024-01-15T10:30:00Z",
            "submitted_by": "alice",
        }
        for i in range(3)
    ]
    history = api.get("/api/v1/analytics/queries").mock(side_effect=paged(items, "queries"))
    first = client.analytics.history(status="completed", limit=2)
    assert [q.query_id for q in first.queries] == ["q_0", "q_1"] and first.total_entries == 3
    assert history.calls.last.request.url.params["status"] == "completed"
    assert [q.query_id for q in first] == ["q_0", "q_1", "q_2"]


def test_async_analytics(api: respx.MockRouter) -> None:
    api.post(QUERY).respond(json=query_result(status="running", data=None))
    api.get(f"{QUERY}/{QID}").mock(
        side_effect=[
            httpx.Response(200, json=query_result(status="completed")),
            httpx.Response(200, content=arrow_stream(pa.table({"x": [1, 2]}))),
        ]
    )
    api.post(f"{QUERY}/{QID}/cancel").respond(json=query_result())
    api.get("/api/v1/analytics/queries").respond(json={"queries": [], "total_entries": 0})

    async def main() -> None:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            result = await client.analytics.query(
                "SELECT 1", parameters={"d": dt.date(2024, 1, 1)}, poll_interval=0
            )
            assert result.status == "completed" and result.data
            assert (await result.to_arrow()).column("x").to_pylist() == [1, 2]
            assert (await client.analytics.cancel(QID)).status == "completed"
            assert [q async for q in client.analytics.history()] == []

    asyncio.run(main())


# --- saved queries (the reference's body, against respx; the real server: tests/e2e/test_saved_queries.py) --

SAVED = "/api/v1/analytics/saved-queries"


def saved_query(saved_id: str = "sq_1", **extra: object) -> dict[str, object]:
    return {
        "id": saved_id,
        "name": "Daily Revenue",
        "query": SQL,
        "parameters": [{"name": "start_date", "type": "string", "default": "2024-01-01", "required": False}],
        "tags": ["revenue", "daily"],
        "created_by": "alice",
        **extra,
    }


def test_the_reference_saved_query_flow(api: respx.MockRouter, client: PlatformClient) -> None:
    api.post(QUERY).respond(json=query_result(query=SQL, parameters={"start_date": "2024-01-01"}))
    save = api.post(SAVED).respond(201, json=saved_query())
    execute = api.post(f"{SAVED}/sq_1/execute").respond(
        json=query_result(parameters={"start_date": "2024-02-01"})
    )

    result = client.analytics.query(SQL, parameters={"start_date": "2024-01-01"})
    saved = client.analytics.save_query(
        name="Daily Revenue", query=result.query, parameters=result.parameters, tags=["revenue", "daily"]
    )
    assert sent(save) == {
        "name": "Daily Revenue",
        "query": SQL,
        "parameters": [{"name": "start_date", "type": "string", "default": "2024-01-01"}],
        "tags": ["revenue", "daily"],
    }
    assert saved.id == "sq_1" and saved.parameters[0].name == "start_date"
    again = client.analytics.execute_saved_query(saved.id, parameters={"start_date": "2024-02-01"})
    assert sent(execute) == {"parameters": {"start_date": "2024-02-01"}}
    assert again.status == "completed" and again.parameters == {"start_date": "2024-02-01"}


def test_save_query_with_the_reference_body(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(SAVED).respond(201, json=saved_query(schedule="0 8 1 * *", extra_field="kept"))
    declared = [{"name": "start_date", "type": "date", "default": "2024-01-01", "required": True}]
    saved = client.analytics.save_query(
        "Monthly Revenue Report",
        SQL,
        description="Monthly revenue breakdown by region and product",
        parameters=declared,
        tags=["revenue", "monthly", "report"],
        schedule="0 8 1 * *",
        output_format="csv",
        destination="s3://reports/monthly/",
    )
    assert sent(route) == {
        "name": "Monthly Revenue Report",
        "query": SQL,
        "description": "Monthly revenue breakdown by region and product",
        "parameters": declared,
        "tags": ["revenue", "monthly", "report"],
        "schedule": "0 8 1 * *",
        "output_format": "csv",
        "destination": "s3://reports/monthly/",
    }
    # created_by is a field of the shared model; fields a newer server adds are kept.
    assert saved.schedule == "0 8 1 * *" and saved.created_by == "alice"
    assert saved.model_extra == {"extra_field": "kept"}
    with pytest.raises(exc.ValidationError, match="weird"):
        client.analytics.save_query("x", "SELECT 1", parameters=[{"name": "a", "type": "weird"}])
    assert route.call_count == 1
    typed = client.analytics.save_query("x", "SELECT :d, :n", parameters={"d": dt.date(2024, 1, 1), "n": 3})
    assert typed.id and sent(route)["parameters"] == [
        {"name": "d", "type": "date", "default": "2024-01-01"},
        {"name": "n", "type": "integer", "default": 3},
    ]


def test_saved_query_crud_and_waiting_execute(api: respx.MockRouter, client: PlatformClient) -> None:
    listed = api.get(SAVED).mock(
        side_effect=paged([saved_query(f"sq_{i}") for i in range(3)], "saved_queries")
    )
    api.get(f"{SAVED}/sq_1").respond(json=saved_query())
    patch = api.patch(f"{SAVED}/sq_1").respond(json=saved_query(description="new"))
    delete = api.delete(f"{SAVED}/sq_1").respond(204)
    api.post(f"{SAVED}/sq_1/execute").respond(202, json=query_result(status="running", data=None))
    api.get(f"{QUERY}/{QID}").respond(json=query_result())
    api.get(f"{SAVED}/nope").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No saved query nope", 404))

    page = client.analytics.list_saved_queries(tags=["revenue"], search="daily", limit=2)
    assert [q.id for q in page.saved_queries] == ["sq_0", "sq_1"]
    assert listed.calls.last.request.url.params["tags"] == "revenue"
    assert [q.id for q in page] == ["sq_0", "sq_1", "sq_2"]
    assert client.analytics.get_saved_query("sq_1").name == "Daily Revenue"
    assert client.analytics.update_saved_query("sq_1", description="new").description == "new"
    assert sent(patch) == {"description": "new"}
    assert client.analytics.execute_saved_query("sq_1", poll_interval=0).data
    client.analytics.delete_saved_query("sq_1")
    assert delete.called
    with pytest.raises(exc.ResourceNotFoundError):
        client.analytics.get_saved_query("nope")


def test_async_saved_queries(api: respx.MockRouter) -> None:
    api.post(SAVED).respond(201, json=saved_query())
    api.get(SAVED).respond(json={"saved_queries": [saved_query()], "total_entries": 1})
    api.post(f"{SAVED}/sq_1/execute").respond(json=query_result())
    api.delete(f"{SAVED}/sq_1").respond(204)

    async def main() -> None:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            saved = await client.analytics.save_query(
                "Daily Revenue", SQL, parameters={"start_date": "2024-01-01"}
            )
            assert [q.id async for q in client.analytics.list_saved_queries()] == [saved.id]
            result = await client.analytics.execute_saved_query(saved.id, {"start_date": dt.date(2024, 2, 1)})
            assert result.data
            await client.analytics.delete_saved_query(saved.id)

    asyncio.run(main())
