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
