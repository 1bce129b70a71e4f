"""The Analytics Query API over HTTP on the real Airflow server (3.x api-server, 2.11 webserver).

The reference's example queries and shapes, typed parameters, async + status + paging, cancel (in
the server's own process and from another process), timeouts, every format (and Arrow/Parquet
not gzipped on Airflow 3), the result cache and its invalidation, history, tenants' schemas and
features, connections as databases, and a sample of the attack corpus.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
import uuid
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_platform.analytics.access import open_for_writing
from tests import harness
from tests.analytics.attack_corpus import ATTACKS, Attack
from tests.conftest import SESSION_ENV
from tests.e2e.analytics_support import (
    ARROW,
    HISTORY,
    LONG,
    QUERY,
    WAREHOUSE,
    error_of,
    fresh_key,
    key_set,
    run,
    wait_final,
    wait_status,
)
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e

REFERENCE_BODY = {
    "query": "SELECT customer_segment, COUNT(*) as customer_count, AVG(lifetime_value) as avg_ltv "
    "FROM gold.dim_customer WHERE is_active = true GROUP BY customer_segment ORDER BY avg_ltv DESC",
    "database": "warehouse",
    "limit": 1000,
    "timeout_seconds": 30,
    "parameters": {"start_date": "2024-01-01", "end_date": "2024-01-31"},
}
SDK_EXAMPLE = """
    SELECT
        DATE_TRUNC('day', order_date) as date,
        COUNT(*) as order_count,
        SUM(total_amount) as revenue
    FROM gold.fact_orders
    WHERE order_date >= :start_date
    GROUP BY 1
    ORDER BY 1
"""
SAVED_EXAMPLE = (
    "SELECT DATE_TRUNC('month', order_date) as month, region, product_category, SUM(total_amount) as revenue "
    "FROM gold.fact_orders WHERE order_date >= :start_date GROUP BY 1, 2, 3"
)


@pytest.fixture(scope="module")
def keys(actors: Actors) -> dict[str, str]:
    return key_set(actors, "analytics e2e")


# -- the reference -----------------------------------------------------------------------------


def test_the_reference_example_returns_the_documented_shape(admin: httpx.Client) -> None:
    r = admin.post(QUERY, json=REFERENCE_BODY)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["query_id"].startswith("q_") and doc["status"] == "completed"
    assert doc["rows_returned"] == 4 and isinstance(doc["execution_time_ms"], (int, float))
    assert [list(row) for row in doc["data"]] == [["customer_segment", "customer_count", "avg_ltv"]] * 4
    assert [row["customer_segment"] for row in doc["data"]] == ["Diamond", "Gold", "Silver", "Bronze"]
    assert all(
        isinstance(row["customer_count"], int) and isinstance(row["avg_ltv"], float) for row in doc["data"]
    )
    meta = doc["metadata"]
    assert meta["database"] == "warehouse" and meta["schema"] == "gold"
    assert meta["tables_accessed"] == ["dim_customer"]
    assert isinstance(meta["bytes_scanned"], int) and isinstance(meta["cache_hit"], bool)
    assert r.headers["X-RateLimit-Limit"]  # counted in the analytics-query budget


@pytest.mark.parametrize("sql", [SDK_EXAMPLE, SAVED_EXAMPLE], ids=["sdk-example", "saved-query-example"])
def test_the_other_reference_queries_run_as_written(admin: httpx.Client, sql: str) -> None:
    doc = run(admin, sql, parameters={"start_date": "2024-01-01"})
    assert doc["status"] == "completed" and doc["rows_returned"] > 0
    assert doc["metadata"]["tables_accessed"] == ["fact_orders"]


def test_parameters_are_typed_and_bound_never_pasted(admin: httpx.Client) -> None:
    sql = "SELECT count(*) AS n FROM gold.fact_orders WHERE order_date >= :start AND region = :region"
    plain = run(admin, sql, parameters={"start": "2024-06-01", "region": "EMEA"})
    typed = run(admin, sql, parameters={"start": {"type": "date", "value": "2024-06-01"}, "region": "EMEA"})
    assert plain["data"] == typed["data"] and typed["data"][0]["n"] > 0
    assert typed["parameters"]["start"] == {"type": "date", "value": "2024-06-01"}
    injected = run(admin, sql, parameters={"start": "2024-06-01", "region": "EMEA' OR '1'='1"})
    assert injected["data"] == [{"n": 0}]
    error_of(
        admin.post(QUERY, json={"query": sql, "parameters": {"start": "2024-06-01"}}), 400, "VALIDATION_ERROR"
    )
    bad = error_of(
        admin.post(
            QUERY,
            json={"query": sql, "parameters": {"start": {"type": "date", "value": "June"}, "region": 1}},
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert bad["details"]["parameter"] == "start"


# -- async, status, paging, cancel, timeout ----------------------------------------------------


def test_async_then_status_and_pages(admin: httpx.Client) -> None:
    r = admin.post(
        QUERY,
        json={
            "query": "SELECT order_id FROM gold.fact_orders ORDER BY order_id",
            "limit": 2500,
            "async": True,
        },
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "running") and r.json()["data"] is None
    query_id = r.json()["query_id"]
    done = wait_final(admin, query_id)
    assert done["status"] == "completed" and done["rows_returned"] == 2500 and done["truncated"] is True
    assert len(done["data"]) == 1000 and done["limit"] == 1000  # the default JSON page
    page = admin.get(f"{QUERY}/{query_id}", params={"offset": 2490, "limit": 50}).json()
    assert page["offset"] == 2490 and len(page["data"]) == 10
    assert [row["order_id"] for row in page["data"]] == [row["order_id"] for row in page["data"]]
    first = admin.get(f"{QUERY}/{query_id}", params={"limit": 3}).json()["data"]
    second = admin.get(f"{QUERY}/{query_id}", params={"offset": 3, "limit": 3}).json()["data"]
    assert first[-1]["order_id"] < second[0]["order_id"]
    assert admin.get(f"{QUERY}/{query_id}", params={"offset": 10_000}).json()["data"] == []
    error_of(admin.get(f"{QUERY}/{query_id}", params={"limit": -1}), 400, "VALIDATION_ERROR")


def test_cancel_interrupts_the_engine(admin: httpx.Client) -> None:
    r = admin.post(QUERY, json={"query": LONG, "async": True, "timeout_seconds": 120})
    query_id = r.json()["query_id"]
    wait_status(admin, query_id, "running")
    cancelled = admin.post(f"{QUERY}/{query_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    doc = cancelled.json()
    assert doc["status"] == "cancelled" and doc["cancel_requested"] is True and doc["error"]["message"]
    assert admin.get(f"{QUERY}/{query_id}").json()["status"] == "cancelled"
    error_of(admin.get(f"{QUERY}/{query_id}", params={"format": "csv"}), 409, "CONFLICT")


def test_a_cancel_from_another_process_reaches_the_server(admin: httpx.Client) -> None:
    """This test process cancels through the metadata DB; the server's watcher stops its engine."""
    from airflow_platform.api import analytics as api
    from airflow_platform.auth.principal import Principal

    r = admin.post(QUERY, json={"query": LONG, "async": True, "timeout_seconds": 120})
    query_id = r.json()["query_id"]
    wait_status(admin, query_id, "running")
    me = Principal(username=harness.ADMIN_USER, user=None, tenant_id=None, scopes=frozenset({"*"}),
                   via="api_key", is_platform_admin=True)  # fmt: skip
    answered = api.service().cancel(me, query_id)  # another process: no job here, the DB flag
    assert answered.cancel_requested is True
    assert wait_final(admin, query_id)["status"] == "cancelled"


def test_timeout_interrupts_the_engine_and_answers_400(admin: httpx.Client) -> None:
    started = time.monotonic()
    error = error_of(admin.post(QUERY, json={"query": LONG, "timeout_seconds": 1}), 400, "VALIDATION_ERROR")
    assert error["details"]["reason"] == "timeout" and time.monotonic() - started < 60
    failed = admin.get(f"{QUERY}/{error['details']['query_id']}").json()
    assert failed["status"] == "failed" and failed["error"]["details"]["reason"] == "timeout"


def test_a_refused_query_answers_400_with_the_reason(admin: httpx.Client) -> None:
    for sql, reason in [
        ("DELETE FROM gold.fact_orders", "statement"),
        ("SELECT 1; SELECT 2", "multiple_statements"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "function"),
        ("ATTACH '/tmp/x.duckdb' AS x", "statement"),
        ("SELECT * FROM gold.nope", "query"),
    ]:
        error = error_of(admin.post(QUERY, json={"query": sql}), 400, "VALIDATION_ERROR")
        assert error["details"]["reason"] == reason, (sql, error)
    error_of(admin.post(QUERY, json={"query": "SELECT 1", "limit": 10**9}), 400, "VALIDATION_ERROR")
    error_of(
        admin.post(QUERY, json={"query": "SELECT 1", "database": "no_such_db"}), 404, "RESOURCE_NOT_FOUND"
    )
    error_of(admin.post(QUERY, json={"query": "SELECT 1", "nope": 1}), 400, "VALIDATION_ERROR")


# -- formats ----------------------------------------------------------------------------------


def test_every_format_by_accept_header_and_format_param(admin: httpx.Client) -> None:
    sql = "SELECT order_id, order_date, region, total_amount FROM gold.fact_orders ORDER BY order_id"
    r = admin.post(QUERY, json={"query": sql, "limit": 20_000}, headers={"Accept": ARROW})
    assert r.status_code == 200 and r.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.num_rows == 20_000 and table.schema.names == [
        "order_id",
        "order_date",
        "region",
        "total_amount",
    ]
    assert str(table.schema.field("total_amount").type) == "decimal128(12, 2)"
    query_id = r.headers["X-Query-Id"]
    assert r.headers["X-Rows-Returned"] == "20000"

    as_csv = admin.get(f"{QUERY}/{query_id}", params={"format": "csv", "offset": 5, "limit": 3})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(row["order_id"]) for row in rows] == table.column("order_id").to_pylist()[5:8]

    as_parquet = admin.get(f"{QUERY}/{query_id}", headers={"Accept": "application/vnd.apache.parquet"})
    assert pq.read_table(io.BytesIO(as_parquet.content)).equals(table)

    as_json = admin.get(f"{QUERY}/{query_id}", params={"format": "json", "limit": 2}).json()
    assert as_json["data"][0]["order_id"] == table.column("order_id")[0].as_py()

    big_json = admin.post(QUERY, json={"query": sql, "limit": 20_000}, params={"format": "json"}).json()
    assert len(big_json["data"]) == 20_000  # streamed in chunks, whole

    error_of(admin.get(f"{QUERY}/{query_id}", params={"format": "xml"}), 400, "VALIDATION_ERROR")


def test_a_large_arrow_result_streams_and_is_stored(admin: httpx.Client) -> None:
    """An Arrow result larger than the server lets a query run ahead of its answer (64 MiB) is
    sent while DuckDB runs; the stored result is the same rows."""
    sql = "SELECT range AS id, repeat('x', 400) || range AS s FROM range(300000)"
    with admin.stream("POST", QUERY, json={"query": sql, "limit": 250_000}, headers={"Accept": ARROW}) as r:
        assert r.status_code == 200 and r.headers["content-type"] == ARROW
        assert r.headers["X-Query-Status"] == "running" and "X-Rows-Returned" not in r.headers
        body = r.read()
    table = pa.ipc.open_stream(body).read_all()
    assert table.num_rows == 250_000 and table.column("id")[-1].as_py() == 249_999
    query_id = r.headers["X-Query-Id"]
    final = wait_final(admin, query_id)  # completed once the result file is in place
    assert final["status"] == "completed" and final["rows_returned"] == 250_000 and final["truncated"]
    stored = admin.get(f"{QUERY}/{query_id}", params={"format": "arrow"})
    assert pa.ipc.open_stream(stored.content).read_all().equals(table)


def test_a_large_quick_arrow_result_is_answered_whole(admin: httpx.Client) -> None:
    """Past 2 MiB, but made at once: one answer of known length, with its row count."""
    sql = "SELECT range AS id, repeat('x', 60) || range AS s FROM range(40000)"
    r = admin.post(QUERY, json={"query": sql, "limit": 40_000}, headers={"Accept": ARROW})
    assert r.status_code == 200 and r.headers["X-Query-Status"] == "completed"
    assert r.headers["X-Rows-Returned"] == "40000" and int(r.headers["Content-Length"]) == len(r.content)
    assert len(r.content) > 2 << 20 and pa.ipc.open_stream(r.content).read_all().num_rows == 40_000


def test_binary_formats_are_not_gzipped(admin: httpx.Client) -> None:
    sql = "SELECT order_id, region FROM gold.fact_orders"
    r = admin.post(
        QUERY, json={"query": sql, "limit": 50_000}, headers={"Accept": ARROW, "Accept-Encoding": "gzip"}
    )
    assert r.status_code == 200
    assert r.headers.get("content-encoding", "identity") == "identity"
    assert pa.ipc.open_stream(r.content).read_all().num_rows == 50_000
    as_csv = admin.get(f"{QUERY}/{r.headers['X-Query-Id']}", params={"format": "csv"},
                       headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert as_csv.status_code == 200 and len(as_csv.text.splitlines()) == 50_001  # text may be gzipped


# -- cache ------------------------------------------------------------------------------------


def test_the_cache_hits_and_is_dropped_when_the_warehouse_changes(admin: httpx.Client) -> None:
    marker = uuid.uuid4().hex  # a text no earlier run cached
    sql = f"SELECT region, count(*) AS n FROM gold.fact_orders WHERE '{marker}' <> '' GROUP BY 1"
    first = run(admin, sql)
    second = run(admin, sql)
    assert first["metadata"]["cache_hit"] is False
    assert second["metadata"]["cache_hit"] is True and second["metadata"]["bytes_scanned"] == 0
    assert second["metadata"]["cached_query_id"] == first["query_id"]
    assert sorted(second["data"], key=str) == sorted(first["data"], key=str)
    # A DataKit loading data: it announces itself, the server lets the file go, the cache is dropped.
    with open_for_writing(WAREHOUSE, wait_s=60) as con:
        con.execute("CREATE OR REPLACE TABLE gold.analytics_e2e_touch AS SELECT now() AS at")
    third = run(admin, sql)
    assert third["metadata"]["cache_hit"] is False


# -- history and walls ------------------------------------------------------------------------


def test_history_is_your_own_and_admins_see_everyones(
    admin: httpx.Client, alice: httpx.Client, bob: httpx.Client
) -> None:
    mine = run(alice, "SELECT 1 AS alice_one")["query_id"]
    theirs = run(bob, "SELECT 2 AS bob_two")["query_id"]
    listed = alice.get(HISTORY, params={"limit": 1000}).json()
    ids = {q["query_id"] for q in listed["queries"]}
    assert mine in ids and theirs not in ids and listed["total_entries"] >= 1
    assert {q["submitted_by"] for q in listed["queries"]} == {"alice"}
    everyone = {q["query_id"] for q in admin.get(HISTORY, params={"limit": 1000}).json()["queries"]}
    assert {mine, theirs} <= everyone
    error_of(alice.get(f"{QUERY}/{theirs}"), 404, "RESOURCE_NOT_FOUND")
    error_of(alice.post(f"{QUERY}/{theirs}/cancel"), 404, "RESOURCE_NOT_FOUND")
    assert admin.get(f"{QUERY}/{mine}").json()["submitted_by"] == "alice"
    failed = alice.get(HISTORY, params={"status": "completed", "limit": 5}).json()["queries"]
    assert all(q["status"] == "completed" for q in failed)


def test_a_tenant_reads_the_shared_schemas_or_its_own(
    actors: Actors, admin: httpx.Client, alice: httpx.Client, bob: httpx.Client
) -> None:
    with open_for_writing(WAREHOUSE, wait_s=60) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS team_a")
        con.execute("CREATE OR REPLACE TABLE team_a.plans AS SELECT 'secret plan' AS plan")
    assert run(alice, "SELECT count(*) AS n FROM gold.dim_customer")["data"][0]["n"] > 0
    refused = error_of(
        alice.post(QUERY, json={"query": "SELECT * FROM team_a.plans"}), 400, "VALIDATION_ERROR"
    )
    assert refused["details"]["reason"] == "schema"
    error_of(alice.post(QUERY, json={"query": "SELECT * FROM dim_customer"}), 400, "VALIDATION_ERROR")
    tenant = "/api/v1/platform/tenants/team-a"
    assert admin.patch(tenant, json={"metadata": {"warehouse_schemas": "team_a,gold"}}).status_code == 200
    try:
        deadline = time.monotonic() + 30
        while True:  # tenant rules are remembered for 2 s per server process
            r = alice.post(QUERY, json={"query": "SELECT plan FROM team_a.plans"})
            if r.status_code == 200:
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert r.json()["data"] == [{"plan": "secret plan"}]
        error_of(bob.post(QUERY, json={"query": "SELECT plan FROM team_a.plans"}), 400, "VALIDATION_ERROR")
        assert run(admin, "SELECT plan FROM team_a.plans")["data"] == [{"plan": "secret plan"}]
    finally:
        admin.patch(tenant, json={"metadata": {"warehouse_schemas": None}})


def test_the_analytics_feature_and_the_roles_gate_queries(
    actors: Actors, admin: httpx.Client, bob: httpx.Client
) -> None:
    tenant = "/api/v1/platform/tenants/team-b"
    assert admin.patch(tenant, json={"features": {"analytics": False}}).status_code == 200
    try:
        error_of(bob.post(QUERY, json={"query": "SELECT 1"}), 403, "PERMISSION_DENIED")
    finally:
        admin.patch(tenant, json={"features": {"analytics": None}})
    assert bob.post(QUERY, json={"query": "SELECT 1 AS ok"}).status_code == 200
    with actors.client(actors.viewer_key) as viewer:
        assert viewer.get(HISTORY).status_code == 200  # Viewer reads ...
        error_of(viewer.post(QUERY, json={"query": "SELECT 1"}), 403, "PERMISSION_DENIED")  # ... runs nothing
    with actors.client() as anonymous:
        error_of(anonymous.post(QUERY, json={"query": "SELECT 1"}), 401, "AUTHENTICATION_FAILED")


# -- connections as databases -----------------------------------------------------------------


def test_a_duckdb_connection_is_a_database_of_its_tenant(
    alice: httpx.Client, bob: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("conn") / "team_a.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales AS SELECT range AS id, range * 2 AS amount FROM range(10)")
    conn_id = f"duck_{uuid.uuid4().hex[:8]}"
    created = alice.post(
        "/api/v1/platform/connections",
        json={"connection_id": conn_id, "connection_type": "duckdb", "host": str(path)},
    )
    assert created.status_code == 201, created.text
    try:
        doc = run(alice, "SELECT sum(amount) AS total FROM sales WHERE id < :n", database=conn_id,
                  parameters={"n": 5})  # fmt: skip
        assert doc["data"] == [{"total": 20}] and doc["metadata"]["database"] == conn_id
        written = error_of(alice.post(QUERY, json={"query": "DROP TABLE sales", "database": conn_id}), 400,
                           "VALIDATION_ERROR")  # fmt: skip
        assert written["details"]["reason"] == "statement"
        gone = error_of(
            bob.post(QUERY, json={"query": "SELECT 1", "database": conn_id}), 404, "RESOURCE_NOT_FOUND"
        )
        assert conn_id in gone["message"]
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM sales").fetchone() == (10,)
    finally:
        alice.delete(f"/api/v1/platform/connections/{conn_id}")


def test_connections_to_the_platforms_own_files_are_refused(alice: httpx.Client) -> None:
    metadata_db = SESSION_ENV["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split(":///", 1)[-1]
    conn_id = f"meta_{uuid.uuid4().hex[:8]}"
    created = alice.post(
        "/api/v1/platform/connections",
        json={"connection_id": conn_id, "connection_type": "sqlite", "host": metadata_db},
    )
    assert created.status_code == 201, created.text
    try:
        error_of(alice.post(QUERY, json={"query": "SELECT * FROM ab_user", "database": conn_id}), 403,
                 "PERMISSION_DENIED")  # fmt: skip
    finally:
        alice.delete(f"/api/v1/platform/connections/{conn_id}")
    http_id = f"http_{uuid.uuid4().hex[:8]}"
    alice.post("/api/v1/platform/connections", json={"connection_id": http_id, "connection_type": "http"})
    try:
        unsupported = error_of(alice.post(QUERY, json={"query": "SELECT 1", "database": http_id}), 400,
                               "VALIDATION_ERROR")  # fmt: skip
        assert unsupported["details"]["reason"] == "connection_type"
    finally:
        alice.delete(f"/api/v1/platform/connections/{http_id}")


# -- the attack corpus over HTTP ---------------------------------------------------------------

#: Every 5th DuckDB guard case of the corpus (all its categories), plus the engine-stage bombs. The whole
#: corpus runs against the engine in tests/analytics; over HTTP a sample keeps the suite quick.
DUCKDB_ATTACKS = [a for a in ATTACKS if a.dialect == "duckdb"]


def _sample() -> list[Attack]:
    by_category: dict[str, list[Attack]] = {}
    for attack in DUCKDB_ATTACKS:
        if attack.stage == "guard":
            by_category.setdefault(attack.category, []).append(attack)
    # Bombs over generated rows; those over warehouse tables depend on how big the tables are (the
    # engine tests build theirs big enough), and on the small demo data some finish in time.
    bombs = [a for a in DUCKDB_ATTACKS if a.stage == "engine" and "gold." not in a.sql]
    return [a for cases in by_category.values() for a in cases[::5]] + bombs


HTTP_SAMPLE = _sample()


@pytest.fixture(scope="module")
def attack_site(
    actors: Actors, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("attack")
    secret = "TOP-SECRET-" + uuid.uuid4().hex
    (folder / "secret.csv").write_text(f"secret\n{secret}\n")
    (folder / "out").mkdir()
    return {
        "secret": secret,
        "__SECRET__": str(folder / "secret.csv"),
        "__OUT__": str(folder / "out"),
        "__DB__": WAREHOUSE,
        "key": fresh_key(actors, actors.admin_key, "analytics e2e attacks"),
        "folder": str(folder),
    }


def _fingerprint(path: str) -> tuple[str, int]:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


def test_the_attack_corpus_sample_is_refused_over_http(actors: Actors, attack_site: dict[str, str]) -> None:
    assert {a.category for a in HTTP_SAMPLE} >= {a.category for a in DUCKDB_ATTACKS if a.stage == "guard"}
    before = _fingerprint(WAREHOUSE)
    with actors.client(attack_site["key"]) as c:
        for attack in HTTP_SAMPLE:
            sql = attack.sql
            for placeholder in ("__SECRET__", "__OUT__", "__DB__"):
                sql = sql.replace(placeholder, attack_site[placeholder])
            body = {"query": sql, "timeout_seconds": 2, "database": "warehouse", "limit": 100}
            r = c.post(QUERY, json=body)
            assert 400 <= r.status_code < 500, (attack.label, r.status_code, r.text[:300])
            assert attack_site["secret"] not in r.text, attack.label
    assert _fingerprint(WAREHOUSE) == before  # nothing written to the warehouse
    assert os.listdir(Path(attack_site["folder"]) / "out") == []  # nor beside it
