"""How fast a cancel stops a running query: 50 long queries, each cancelled mid-run.

Starts a real Airflow server (the default version's api-server/webserver) with two worker
processes (so a cancel may land on the process that runs the query, or on the other one, which
reaches it through the metadata DB) on a throw-away PostgreSQL metadata DB, as several workers run
in production (``BENCH_METADATA=sqlite``: Airflow's SQLite default). Then 50 times: starts a query
that would run for hours (``"async": true``), waits until it is running, lets it run a moment
longer, sends ``POST .../cancel`` and polls ``GET .../query/{id}`` until the status is
``cancelled``. The time from sending the cancel to seeing ``cancelled`` is counted; prints how many
took at most 1 s.
``BENCH_WARMUP`` (10) untimed rounds come first: a worker's first analytics request imports DuckDB
and pyarrow (~1 s), which is a cold start, not a cancel (the slowest warm-up round is printed).

    make bench NAME=cancel
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

QUERIES = int(os.environ.get("BENCH_QUERIES", "50"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "10"))
LONG = "SELECT count(*) AS n FROM range(100000000000) a WHERE a.range % 7 = :k"
QUERY = "/api/v1/analytics/query"


def wait_for(client: httpx.Client, query_id: str, statuses: set[str], limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    while True:
        status = str(client.get(f"{QUERY}/{query_id}").json()["status"])
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.01)


def metadata_db() -> contextlib.AbstractContextManager[str | None]:
    """A fresh PostgreSQL database's SQLAlchemy URL (None: Airflow's SQLite default)."""
    if os.environ.get("BENCH_METADATA", "postgresql") == "sqlite":
        return contextlib.nullcontext(None)
    pg = harness.postgres_url()
    if pg is None:
        raise SystemExit(
            "PostgreSQL is not reachable on 127.0.0.1:5432: run `scripts/services.sh start` "
            "(or BENCH_METADATA=sqlite)"
        )
    return harness.fresh_postgres_database(pg)


def main() -> None:
    with metadata_db() as db_url:
        run(db_url)


def run(db_url: str | None) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-cancel-"))
    port = harness.free_port()
    conn = None if db_url is None else db_url.replace("postgresql://", "postgresql+psycopg2://")
    env = {
        **harness.airflow_env(home, sql_alchemy_conn=conn, port=port),
        "AIRFLOW__PLATFORM__RATE_LIMIT_QUERY": "100000000/hour",
        "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "100000000/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_WRITE": "100000000/minute",
        "AIRFLOW__API__WORKERS": "2",
        "AIRFLOW__WEBSERVER__WORKERS": "2",
    }
    os.environ.update(env)
    harness.prepare_airflow_home(env)
    key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench")
    from airflow_platform.demo.warehouse import seed

    seed(env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"])
    rng = random.Random(7)
    with (
        harness.running_server(env, port, home) as server,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=60) as client,
    ):

        def cancel_once(n: int) -> float:
            """One long query started, cancelled mid-run: seconds from the cancel to `cancelled`."""
            body = {"query": LONG, "parameters": {"k": n % 7}, "async": True, "timeout_seconds": 600}
            started = client.post(QUERY, json=body)
            assert started.status_code == 202, started.text
            query_id = started.json()["query_id"]
            state = wait_for(client, query_id, {"running", "failed", "completed"})
            assert state == "running", client.get(f"{QUERY}/{query_id}").text
            time.sleep(rng.uniform(0.05, 0.3))  # mid-run
            sent = time.perf_counter()
            # A new connection: either worker process may take it (a kept-alive one sticks to one).
            answered = httpx.post(
                f"{server.base_url}{QUERY}/{query_id}/cancel", headers={"X-API-Key": key}, timeout=60
            ).json()
            status = answered["status"]
            if status != "cancelled":
                status = wait_for(client, query_id, {"cancelled", "failed", "completed"}, limit_s=30)
            elapsed = time.perf_counter() - sent
            return elapsed if status == "cancelled" else float("inf")

        warm = [cancel_once(n) for n in range(WARMUP)]
        seconds = [cancel_once(n) for n in range(QUERIES)]
    within = sum(1 for s in seconds if s <= 1.0)
    finite = [s for s in seconds if s != float("inf")]
    metadata = "SQLite" if db_url is None else "PostgreSQL"
    print(f"{QUERIES} long queries cancelled mid-run; server worker processes: 2; {metadata} metadata DB")
    if warm:
        print(f"  {len(warm)} warm-up rounds first (untimed): slowest {max(warm) * 1e3:.0f} ms")
    if finite:
        median, worst = statistics.median(finite) * 1e3, max(finite) * 1e3
        print(f"  cancel sent -> cancelled seen: median {median:.0f} ms, max {worst:.0f} ms")
    print(f"cancel_within_1s: {within}/{QUERIES}")


if __name__ == "__main__":
    main()
