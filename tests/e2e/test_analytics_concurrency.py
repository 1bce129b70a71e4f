"""Queries while another process writes the warehouse: bounded waits, a clear 503, then business
as usual. The writers are real separate processes (DuckDB's file lock is per process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from airflow_platform.demo.warehouse import seed
from tests.e2e.analytics_support import QUERY, WAREHOUSE, error_of, fresh_key
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e

#: A writer that does not announce itself: it retries DuckDB's lock until readers let go.
PLAIN_WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    deadline = time.monotonic() + 120
    while True:
        try:
            con = duckdb.connect(sys.argv[1])
            break
        except duckdb.IOException:
            assert time.monotonic() < deadline, "never got the warehouse"
            time.sleep(0.05)
    print("locked", flush=True)
    sys.stdin.readline()
    con.execute("CREATE OR REPLACE TABLE gold.concurrency_marker AS SELECT 1 AS plain")
    con.close()
    """
)

#: A DataKit-like loader that announces itself (`open_for_writing`) and writes for a while.
ANNOUNCED_WRITER = textwrap.dedent(
    """
    import sys
    from airflow_platform.analytics.access import open_for_writing
    with open_for_writing(sys.argv[1], wait_s=60) as con:
        con.execute("CREATE OR REPLACE TABLE gold.concurrency_marker AS SELECT range FROM range(2000000)")
    print("written", flush=True)
    """
)


@pytest.fixture(scope="module")
def client(actors: Actors) -> Iterator[httpx.Client]:
    seed(WAREHOUSE)
    with actors.client(fresh_key(actors, actors.admin_key, "analytics concurrency")) as c:
        yield c


def test_a_writer_holding_the_file_gets_a_bounded_wait_then_a_clear_503(client: httpx.Client) -> None:
    assert client.post(QUERY, json={"query": "SELECT count(*) FROM gold.dim_customer"}).status_code == 200
    writer = subprocess.Popen(
        [sys.executable, "-c", PLAIN_WRITER, WAREHOUSE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "locked"  # once the server's keep-alive let the file go
        # (a cached answer would still be served: the file has not changed yet; this text is new)
        fresh = f"SELECT count(*) FROM gold.dim_customer WHERE name <> '{uuid.uuid4().hex}'"
        busy = client.post(QUERY, json={"query": fresh})
        error = error_of(busy, 503, "SERVICE_UNAVAILABLE")
        assert error["details"]["reason"] == "locked" and busy.headers["Retry-After"] == "1"
        health = client.get("/api/v1/platform/health").json()
        assert health["warehouse"]["status"] == "unhealthy"
    finally:
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.wait(timeout=120) == 0
    after = client.post(QUERY, json={"query": "SELECT plain FROM gold.concurrency_marker"})
    assert after.status_code == 200 and after.json()["data"] == [{"plain": 1}]


def test_queries_keep_working_while_an_announced_writer_loads(actors: Actors, client: httpx.Client) -> None:
    statuses: list[int] = []
    retry_after: list[str | None] = []
    stop = threading.Event()
    looping = actors.client(fresh_key(actors, actors.admin_key, "analytics concurrency loop"))

    def keep_querying() -> None:
        while not stop.is_set() and len(statuses) < 90:  # within the key's 100 queries an hour
            r = looping.post(QUERY, json={"query": "SELECT count(*) AS n FROM gold.dim_customer"})
            statuses.append(r.status_code)
            if r.status_code == 503:
                retry_after.append(r.headers.get("Retry-After"))
            stop.wait(0.05)

    reader = threading.Thread(target=keep_querying)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", ANNOUNCED_WRITER, WAREHOUSE], capture_output=True, text=True, timeout=180
        )
    finally:
        stop.set()
        reader.join(timeout=120)
        looping.close()
    assert done.returncode == 0 and done.stdout.strip() == "written", done.stderr
    assert statuses and set(statuses) <= {200, 503}, statuses
    assert all(value == "1" for value in retry_after)
    final = client.post(QUERY, json={"query": "SELECT count(range) AS n FROM gold.concurrency_marker"})
    assert final.status_code == 200 and final.json()["data"] == [{"n": 2_000_000}]
