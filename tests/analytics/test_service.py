"""The analytics service with its real parts: a DuckDB warehouse file, the session's metadata DB,
the results store on disk, the runner's threads. No HTTP here (tests/e2e does that).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_platform.analytics.access import open_for_writing
from airflow_platform.analytics.engines import WarehouseSettings
from airflow_platform.analytics.results import ResultReader
from airflow_platform.analytics.runner import utcnow
from airflow_platform.auth.principal import Principal
from airflow_platform.demo.warehouse import seed
from airflow_platform.exceptions import (
    PermissionDeniedError,
    RateLimitError,
    ResourceNotFoundError,
    ValidationError,
)
from airflow_platform.schemas.analytics import QueryHistoryQuery
from airflow_platform.services.analytics import (
    AnalyticsService,
    AnalyticsSettings,
    Execution,
    TenantRules,
    tenant_rules_from,
)
from airflow_platform.storage.analytics_queries import QueryRepository

LONG = "SELECT count(*) AS n FROM range(100000000000) a"
ADMIN = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key",
                  is_platform_admin=True)  # fmt: skip


def member(username: str, tenant: str) -> Principal:
    return Principal(username=username, user=None, tenant_id=tenant, scopes=frozenset({"*"}), via="api_key")


RULES: dict[str | None, TenantRules] = {}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("svc") / "warehouse.duckdb")
    seed(path)
    with open_for_writing(path) as con:
        con.execute("CREATE SCHEMA team_x; CREATE TABLE team_x.private AS SELECT 42 AS secret")
    return path


@pytest.fixture
def service(airflow_home: Path, warehouse: str, tmp_path: Path) -> AnalyticsService:
    settings = AnalyticsSettings(
        warehouse_path=warehouse,
        results_path=str(tmp_path / "results"),
        warehouse=WarehouseSettings(memory_limit="512MB", threads=2, lock_wait_s=2.0, keepalive_s=1.0),
        max_rows=100_000,
        max_timeout_s=60,
        sync_wait_s=2.0,
        max_concurrent=4,
        cache_ttl_s=300,
    )

    def no_connections(principal: Principal, conn_id: str) -> Any:
        raise ResourceNotFoundError(f"No database {conn_id!r}")

    RULES.clear()
    return AnalyticsService(
        settings,
        tenant_rules=lambda p: RULES.get(p.tenant_id, TenantRules()),
        feature_enabled=lambda tenant, feature: True,
        find_connection=no_connections,
    )


def rows(execution: Execution) -> list[dict[str, Any]]:
    assert execution.reader is not None
    table = pa.Table.from_batches(list(execution.reader.batches()), schema=execution.reader.schema)
    execution.close()
    return table.to_pylist()


def eventually_final(service: AnalyticsService, principal: Principal, query_id: str) -> Execution:
    deadline = time.monotonic() + 60
    while True:
        execution = service.get(principal, query_id)
        if execution.result.status in ("completed", "failed", "cancelled"):
            return execution
        execution.close()
        assert time.monotonic() < deadline, f"{query_id} never finished"
        time.sleep(0.05)


def test_the_reference_query_answers_at_once_and_is_recorded(service: AnalyticsService) -> None:
    sql = (
        "SELECT customer_segment, COUNT(*) as customer_count, AVG(lifetime_value) as avg_ltv "
        "FROM gold.dim_customer WHERE is_active = true GROUP BY customer_segment ORDER BY avg_ltv DESC"
    )
    done = service.run_query(ADMIN, sql, {"start_date": "2024-01-01"})  # unused parameters are ignored
    doc = done.result
    assert doc.status == "completed" and doc.rows_returned == 4
    assert doc.metadata.schema_ == "gold" and doc.metadata.tables_accessed == ["dim_customer"]
    assert doc.metadata.bytes_scanned and doc.metadata.cache_hit is False
    assert [c.name for c in doc.columns or []] == ["customer_segment", "customer_count", "avg_ltv"]
    data = rows(done)
    assert {r["customer_segment"] for r in data} == {"Diamond", "Gold", "Silver", "Bronze"}
    again = service.get(ADMIN, doc.query_id)  # from this process's pending rows, or the DB
    assert again.result.status == "completed" and rows(again) == data
    service.runner.flush()
    assert QueryRepository().get(doc.query_id).status == "completed"


def test_a_small_result_is_stored_after_the_answer_and_before_its_row(service: AnalyticsService) -> None:
    """A query answered within the wait gets its rows from memory; the writer stores the result
    file before it inserts the row, so any process that finds the row can read the rows."""
    done = service.run_query(ADMIN, "SELECT :n AS n, 'x' AS s", {"n": 7})
    query_id = done.result.query_id
    assert rows(done) == [{"n": 7, "s": "x"}]
    again = service.get(ADMIN, query_id)  # this process: from memory or from the file
    assert again.result.result_available and rows(again) == [{"n": 7, "s": "x"}]
    service.runner.flush()
    assert service.runner.unwritten_result(query_id) is None
    stored = QueryRepository().get(query_id)
    assert stored.status == "completed" and stored.result_bytes and Path(stored.result_path).is_file()
    # What another process does: the DB row, then the file it names.
    with ResultReader(stored.result_path) as reader:
        assert pa.Table.from_batches(list(reader.batches()), schema=reader.schema).to_pylist() == [
            {"n": 7, "s": "x"}
        ]


def test_a_small_async_result_is_stored_before_its_row_says_completed(service: AnalyticsService) -> None:
    started = service.run_query(ADMIN, "SELECT 5 AS n", {}, run_async=True)
    done = eventually_final(service, ADMIN, started.result.query_id)
    assert rows(done) == [{"n": 5}]
    stored = QueryRepository().get(started.result.query_id)
    assert stored.status == "completed" and Path(stored.result_path).is_file()


@pytest.fixture
def stream_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stream as soon as 2 MiB are there (no grace time: these queries end within it)."""
    monkeypatch.setattr("airflow_platform.services.analytics.STREAM_GRACE_S", 0.0)


@pytest.mark.usefixtures("stream_at_once")
def test_a_large_arrow_result_streams_while_the_query_runs(service: AnalyticsService) -> None:
    """The answer reads the Arrow IPC stream as DuckDB produces it; the same bytes become the
    result file, in place before the row says completed."""
    sql = "SELECT range AS id, repeat('x', 100) || range AS s FROM range(120000)"
    started = service.run_query(ADMIN, sql, {}, limit=90_000, stream=True)
    assert started.stream is not None and started.reader is None
    assert started.result.status in ("running", "completed")
    body = b"".join(started.stream.chunks())
    table = pa.ipc.open_stream(body).read_all()
    assert table.num_rows == 90_000 and table.column("id").to_pylist()[-1] == 89_999
    done = eventually_final(service, ADMIN, started.result.query_id)
    assert done.result.status == "completed" and done.result.rows_returned == 90_000
    assert done.result.truncated is True
    stored = QueryRepository().get(started.result.query_id)
    assert stored.status == "completed" and Path(stored.result_path).read_bytes() == body
    done.close()


def test_a_small_arrow_result_is_answered_whole(service: AnalyticsService) -> None:
    done = service.run_query(ADMIN, "SELECT 1 AS n", {}, stream=True)
    assert done.stream is None and done.result.status == "completed" and rows(done) == [{"n": 1}]


def test_a_large_but_quick_arrow_result_is_answered_whole_from_its_file(service: AnalyticsService) -> None:
    """9 MB that DuckDB makes within the grace time: answered whole, with its row count, from the
    file written as it came (a body of known length reads faster than a chunked one)."""
    sql = "SELECT range AS id, repeat('x', 100) || range AS s FROM range(90000)"
    done = service.run_query(ADMIN, sql, {}, limit=90_000, stream=True)
    assert done.stream is None and done.result.status == "completed"
    assert done.reader is not None and done.reader.path is not None and done.reader.num_rows == 90_000
    assert pa.ipc.open_stream(b"".join(done.reader.raw_chunks())).read_all().num_rows == 90_000
    done.close()


def test_a_result_past_the_buffer_is_streamed_before_the_grace_time_ends(
    service: AnalyticsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query may run only `STREAM_BUFFER_BYTES` ahead of an answer, decided or not: a result
    larger than that is streamed even when it would end within the grace time."""
    monkeypatch.setattr("airflow_platform.services.analytics.STREAM_BUFFER_BYTES", 4 << 20)
    monkeypatch.setattr("airflow_platform.services.analytics.STREAM_GRACE_S", 30.0)
    sql = "SELECT range AS id, repeat('x', 100) || range AS s FROM range(100000)"
    started = time.monotonic()
    streamed = service.run_query(ADMIN, sql, {}, limit=100_000, stream=True)
    assert streamed.stream is not None
    assert time.monotonic() - started < 1.5  # not the 2 s sync wait, let alone the grace time
    table = pa.ipc.open_stream(b"".join(streamed.stream.chunks())).read_all()
    assert table.num_rows == 100_000


@pytest.mark.usefixtures("stream_at_once")
def test_a_streamed_query_that_fails_midway_cuts_the_stream(service: AnalyticsService) -> None:
    """A failed cast past the first batches: the reader gets an error, never a short result."""
    sql = (
        "SELECT range AS id, repeat('x', 100) AS s, "
        "CASE WHEN range < 80000 THEN 0 ELSE ('x' || range)::INTEGER END AS z FROM range(100000)"
    )
    try:
        started = service.run_query(ADMIN, sql, {}, limit=100_000, stream=True)
    except ValidationError:
        return  # DuckDB failed before the first bytes: answered as an error, which is fine too
    assert started.stream is not None
    with pytest.raises(RuntimeError):
        b"".join(started.stream.chunks())
    done = eventually_final(service, ADMIN, started.result.query_id)
    assert done.result.status == "failed"


@pytest.mark.usefixtures("stream_at_once")
def test_a_streamed_query_can_be_cancelled_while_its_reader_is_slow(
    service: AnalyticsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("airflow_platform.services.analytics.STREAM_BUFFER_BYTES", 1 << 20)
    sql = "SELECT range AS id, repeat('x', 1000) AS s FROM range(100000)"
    started = service.run_query(ADMIN, sql, {}, limit=100_000, stream=True)
    assert started.stream is not None
    chunks = started.stream.chunks()
    next(chunks)  # a reader that reads one chunk, then stalls: the query waits for it
    service.cancel(ADMIN, started.result.query_id)
    with pytest.raises(RuntimeError):
        list(chunks)
    assert eventually_final(service, ADMIN, started.result.query_id).result.status == "cancelled"


def test_async_query_then_status_and_pages(service: AnalyticsService) -> None:
    started = service.run_query(
        ADMIN, "SELECT order_id FROM gold.fact_orders ORDER BY order_id", {}, limit=2500, run_async=True
    )
    assert started.result.status in ("queued", "running") and started.reader is None
    done = eventually_final(service, ADMIN, started.result.query_id)
    assert done.result.rows_returned == 2500 and done.result.truncated
    assert done.reader is not None
    page = pa.Table.from_batches(list(done.reader.batches(2490, 100)))
    assert page.num_rows == 10
    done.close()


def test_parameters_are_bound_typed_and_required(service: AnalyticsService) -> None:
    sql = "SELECT count(*) AS n FROM gold.fact_orders WHERE order_date >= :start AND region = :region"
    as_text = rows(service.run_query(ADMIN, sql, {"start": "2024-06-01", "region": "EMEA"}))
    typed = rows(
        service.run_query(ADMIN, sql, {"start": {"type": "date", "value": "2024-06-01"}, "region": "EMEA"})
    )
    assert as_text == typed and typed[0]["n"] > 0
    hostile = rows(service.run_query(ADMIN, sql, {"start": "2024-06-01", "region": "x' OR '1'='1"}))
    assert hostile == [{"n": 0}]  # a value, never SQL
    with pytest.raises(ValidationError, match=":region") as info:
        service.run_query(ADMIN, sql, {"start": "2024-06-01"})
    assert info.value.details["reason"] == "parameter"


def test_the_cache_hits_and_is_dropped_when_the_warehouse_changes(
    service: AnalyticsService, warehouse: str
) -> None:
    sql = "SELECT region, count(*) AS n FROM gold.fact_orders GROUP BY region ORDER BY region"
    first = service.run_query(ADMIN, sql, {})
    second = service.run_query(ADMIN, sql, {})
    assert first.result.metadata.cache_hit is False
    assert second.result.metadata.cache_hit is True and second.result.metadata.bytes_scanned == 0
    assert second.result.metadata.cached_query_id == first.result.query_id
    assert rows(second) == rows(first)
    other_limit = service.run_query(ADMIN, sql, {}, limit=2)
    assert other_limit.result.metadata.cache_hit is False
    other_limit.close()
    with open_for_writing(warehouse, wait_s=30) as con:  # a DataKit loading data
        con.execute("INSERT INTO gold.fact_orders SELECT order_id + 10000000, customer_id, order_date, "
                    "region, product_category, total_amount FROM gold.fact_orders LIMIT 1")  # fmt: skip
    third = service.run_query(ADMIN, sql, {})
    assert third.result.metadata.cache_hit is False
    assert (
        sum(r["n"] for r in rows(third))
        == sum(r["n"] for r in rows(service.get(ADMIN, first.result.query_id))) + 1
    )


def test_a_query_that_fails_within_the_wait_raises_and_is_recorded(service: AnalyticsService) -> None:
    with pytest.raises(ValidationError, match="timeout") as info:
        service.run_query(ADMIN, LONG, {}, timeout_s=0.5)
    query_id = info.value.details["query_id"]
    doc = service.get(ADMIN, query_id).result
    assert doc.status == "failed" and doc.error is not None and doc.error.details["reason"] == "timeout"


def test_cancel_in_this_process(service: AnalyticsService) -> None:
    started = service.run_query(ADMIN, LONG, {}, run_async=True, timeout_s=60)
    query_id = started.result.query_id
    deadline = time.monotonic() + 30
    while service.get(ADMIN, query_id).result.status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    doc = service.cancel(ADMIN, query_id)
    assert doc.status == "cancelled" and doc.cancel_requested and doc.error is not None
    assert service.cancel(ADMIN, query_id).status == "cancelled"  # again: answered as it is


def test_a_cancel_from_another_process_arrives_through_the_db_flag(service: AnalyticsService) -> None:
    started = service.run_query(ADMIN, LONG, {}, run_async=True, timeout_s=60)
    query_id = started.result.query_id
    assert QueryRepository().request_cancel(query_id)  # what another server process's cancel does
    done = eventually_final(service, ADMIN, query_id)
    assert done.result.status == "cancelled"


def test_a_query_whose_process_died_is_reported_failed(service: AnalyticsService) -> None:
    long_ago = utcnow() - timedelta(minutes=10)
    query_id = "q_" + "d" * 24
    QueryRepository().insert(
        {
            "query_id": query_id, "tenant_id": None, "username": "admin", "database": "warehouse",
            "query_text": "SELECT 1", "parameters": {}, "row_limit": 1, "timeout_seconds": 1.0,
            "status": "running", "submitted_at": long_ago, "truncated": False, "tables_accessed": [],
            "cache_hit": False, "cancel_requested": False, "runner": "elsewhere:1", "heartbeat_at": long_ago,
        }
    )  # fmt: skip
    doc = service.get(ADMIN, query_id).result
    assert doc.status == "failed" and doc.error is not None and doc.error.details["reason"] == "lost"


def test_tenants_read_only_their_schemas(service: AnalyticsService) -> None:
    alice = member("alice-svc", "team-x")
    RULES["team-x"] = tenant_rules_from({}, {}, frozenset({"bronze", "silver", "gold"}))
    assert rows(service.run_query(alice, "SELECT count(*) AS n FROM gold.dim_customer", {}))[0]["n"] > 0
    for sql in ("SELECT * FROM team_x.private", "SELECT * FROM dim_customer", "SELECT * FROM main.x"):
        with pytest.raises(ValidationError) as info:
            service.run_query(alice, sql, {})
        assert info.value.details["reason"] == "schema"
    RULES["team-x"] = tenant_rules_from({"warehouse_schemas": "team_x, gold"}, {}, frozenset({"gold"}))
    assert rows(service.run_query(alice, "SELECT secret FROM team_x.private", {})) == [{"secret": 42}]
    with pytest.raises(ValidationError):
        service.run_query(alice, "SELECT * FROM silver.orders", {})
    assert rows(service.run_query(ADMIN, "SELECT secret FROM team_x.private", {})) == [{"secret": 42}]


def test_a_tenants_cpu_limit_caps_its_concurrent_queries(service: AnalyticsService) -> None:
    bob = member("bob-svc", "team-y")
    RULES["team-y"] = tenant_rules_from({}, {"cpu": "500m"}, frozenset({"gold"}))
    assert RULES["team-y"].max_concurrent == 1
    first = service.run_query(bob, LONG, {}, run_async=True, timeout_s=60)
    with pytest.raises(RateLimitError) as info:
        service.run_query(bob, LONG, {}, run_async=True)
    assert info.value.status == 429 and info.value.details["reason"] == "concurrency"
    assert service.cancel(bob, first.result.query_id).status == "cancelled"


def test_a_tenants_memory_limit_caps_what_a_result_may_hold(service: AnalyticsService) -> None:
    carol = member("carol-svc", "team-z")
    RULES["team-z"] = tenant_rules_from({}, {"memory": "1Ki"}, frozenset({"gold"}))
    with pytest.raises(ValidationError, match="memory limit") as info:
        service.run_query(carol, "SELECT * FROM gold.fact_orders", {}, limit=5000)
    assert info.value.details["reason"] == "memory"
    assert rows(service.run_query(carol, "SELECT count(*) AS n FROM gold.fact_orders", {}))[0]["n"] > 0


def test_history_is_your_own_and_admins_see_all(service: AnalyticsService) -> None:
    dave, erin = member("dave-svc", "team-h"), member("erin-svc", "team-h")
    mine = service.run_query(dave, "SELECT 1 AS one", {}).result.query_id
    theirs = service.run_query(erin, "SELECT 2 AS two", {}).result.query_id
    dave_sees = {q.query_id for q in service.history(dave, QueryHistoryQuery()).queries}
    assert mine in dave_sees and theirs not in dave_sees
    admin_sees = {q.query_id for q in service.history(ADMIN, QueryHistoryQuery(limit=1000)).queries}
    assert {mine, theirs} <= admin_sees
    with pytest.raises(ResourceNotFoundError):
        service.get(dave, theirs)
    with pytest.raises(ResourceNotFoundError):
        service.cancel(dave, theirs)
    with pytest.raises(ResourceNotFoundError):
        service.get(dave, "q_not-an-id")


def test_caps_and_refusals(service: AnalyticsService) -> None:
    with pytest.raises(ValidationError, match="limit may be at most"):
        service.run_query(ADMIN, "SELECT 1", {}, limit=100_001)
    with pytest.raises(ValidationError, match="timeout_seconds may be at most"):
        service.run_query(ADMIN, "SELECT 1", {}, timeout_s=61)
    with pytest.raises(ResourceNotFoundError):
        service.run_query(ADMIN, "SELECT 1", {}, database="nope")
    with pytest.raises(ValidationError, match="not allowed"):
        service.run_query(ADMIN, "SELECT * FROM read_csv('/etc/passwd')", {})


def test_connections_need_the_external_connections_feature(service: AnalyticsService) -> None:
    service.feature_enabled = lambda tenant, feature: feature != "external_connections"
    with pytest.raises(PermissionDeniedError, match="external_connections"):
        service.run_query(member("fay-svc", "team-f"), "SELECT 1", {}, database="some_conn")
    with pytest.raises(ResourceNotFoundError):  # admins across tenants are not gated by a tenant's features
        service.run_query(ADMIN, "SELECT 1", {}, database="some_conn")
