"""What the Analytics Query API costs on top of DuckDB itself.

Starts a real Airflow server (the default version's api-server/webserver) on a fresh SQLite home
with a 10M-row warehouse table, then prints two figures:

* ``query_overhead_ratio``: median end-to-end time of a GROUP BY aggregate over the 10M rows
  through ``PlatformClient.analytics.query`` (HTTP, API-key auth, rate limits on, the guard,
  the runner, the results store, JSON rows back) ÷ median time of the same query in-process on
  DuckDB (read-only connection, rows fetched), same run, alternating blocks. Goal ≤ 1.10.
* ``small_query_ratio``: a one-row query (``SELECT :n``, a new value each time) through the same
  stack ÷ Airflow's own trivial version endpoint on the same server (plain ``httpx`` GET). Goal ≤ 2.0.

The result cache is off (``analytics_cache_ttl_seconds = 0``) so that every request runs the
query; the rate-limit budgets are raised so that the timed requests are counted, not refused.

    make bench NAME=query_overhead
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

from airflow_platform.analytics.access import open_for_writing
from airflow_platform.sdk import PlatformClient

ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
BLOCKS = int(os.environ.get("BENCH_BLOCKS", "7"))
PER_BLOCK = int(os.environ.get("BENCH_PER_BLOCK", "3"))
SMALL_PER_BLOCK = int(os.environ.get("BENCH_SMALL_PER_BLOCK", "200"))
AGGREGATE = (
    "SELECT k % 100 AS bucket, count(*) AS n, sum(v) AS total, avg(v) AS mean, max(s) AS last_name "
    "FROM gold.bench_events GROUP BY 1 ORDER BY 1"
)


def build(path: str) -> None:
    with open_for_writing(path) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS gold")
        con.execute(
            f"""
            CREATE OR REPLACE TABLE gold.bench_events AS
            SELECT range AS id, (range * 7919) % 1000 AS k, ((range * 104729) % 100000) / 100.0 AS v,
                   'name ' || (range % 5000) AS s
            FROM range({ROWS})
            """
        )


def timed(fn: Callable[[int], object], n: int, counter: list[int]) -> list[float]:
    out = []
    for _ in range(n):
        counter[0] += 1
        start = time.perf_counter()
        fn(counter[0])
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-query-"))
    port = harness.free_port()
    env = {
        **harness.airflow_env(home, port=port),
        "AIRFLOW__PLATFORM__RATE_LIMIT_QUERY": "100000000/hour",
        "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "100000000/minute",
        "AIRFLOW__PLATFORM__ANALYTICS_CACHE_TTL_SECONDS": "0",
    }
    os.environ.update(env)
    harness.prepare_airflow_home(env)
    key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench")
    warehouse = env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]
    build(warehouse)
    version_path = "/api/v2/version" if harness.airflow_major() >= 3 else "/api/v1/version"
    counter = [0]
    with (
        harness.running_server(env, port, home) as server,
        PlatformClient(server.base_url, api_key=key) as sdk,
        httpx.Client(base_url=server.base_url, timeout=60) as raw,
        duckdb.connect(warehouse, read_only=True) as local,
    ):
        version_headers = {} if raw.get(version_path).status_code == 200 else {"X-API-Key": key}

        def over_http(_: int) -> object:
            return sdk.analytics.query(AGGREGATE, timeout_seconds=120).data

        def in_process(_: int) -> object:
            return local.execute(AGGREGATE).fetchall()

        def small(n: int) -> object:
            return sdk.analytics.query("SELECT :n AS n", parameters={"n": n}).data

        def version(_: int) -> object:
            response = raw.get(version_path, headers=version_headers)
            response.raise_for_status()
            return response.json()

        assert over_http(0) and in_process(0)  # warm: imports, the file's pages, connections
        for n in range(50):
            small(n), version(n)
        http_s, local_s, small_s, version_s = [], [], [], []
        for _ in range(BLOCKS):
            local_s += timed(in_process, PER_BLOCK, counter)
            http_s += timed(over_http, PER_BLOCK, counter)
            version_s += timed(version, SMALL_PER_BLOCK, counter)
            small_s += timed(small, SMALL_PER_BLOCK, counter)
    http, local_ = statistics.median(http_s), statistics.median(local_s)
    small_, version_ = statistics.median(small_s), statistics.median(version_s)
    print(f"GROUP BY over {ROWS:,} rows: in-process {local_ * 1e3:.1f} ms, via the API {http * 1e3:.1f} ms")
    print(f"  (median of {len(http_s)} each, {BLOCKS} alternating blocks; cache off)")
    print(
        f"one-row query via the API {small_ * 1e3:.2f} ms; Airflow's {version_path} {version_ * 1e3:.2f} ms"
    )
    print(f"  (median of {len(small_s)} each)")
    print(f"small_query_ratio: {small_ / version_:.3f}")
    print(f"query_overhead_ratio: {http / local_:.3f}")


if __name__ == "__main__":
    main()
