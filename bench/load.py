"""The platform under load, against a server started the way production runs it.

Airflow 3: ``airflow api-server`` with 2 workers; Airflow 2.11: the gunicorn webserver with 2
workers. The metadata DB is a throw-away PostgreSQL database (127.0.0.1:5432, user platform; set
``PLATFORM_TEST_PG_URL`` to use another server), dropped at the end. Rate limits stay on (in
memory, per worker) but every class is raised to 10^9 per period so the bench measures serving, not
throttling. 100 DataKits are registered through the API, 50 small DAGs are serialized with
``airflow dags reserialize``, and the demo warehouse is seeded for the small queries.

(a) Same key, same concurrency (``BENCH_CONCURRENCY`` threads, each with its own keep-alive
    client), each as fast as it goes, in alternating timed blocks: ``GET /api/v1/datakits?limit=100``
    vs Airflow's ``/api/v2/dags?limit=100`` (2.11: ``/api/v1/dags``). Prints
    ``platform_vs_airflow_rps_ratio`` (ours ÷ Airflow's requests/s; goal >= 3.0).
(b) A mixed workload at a fixed 50 requests/s for 60 s (open loop: each request is due at its own
    time, latency is counted from that time, so a stalled server cannot hide its queue): list and
    get DataKits, small analytics queries, a GraphQL query, Airflow's DAG list. Prints the error
    count and, last, ``load_p99_ms_at_50rps`` (goal <= 100 ms, 0 errors). The same mix runs for
    ``BENCH_WARMUP_S`` (5 s) before, untimed, so that each worker's first request of a kind (its
    imports: DuckDB, pyarrow, Strawberry) is not counted; the slowest warm-up request per kind is
    printed.

    make bench NAME=load
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
BLOCK_S = float(os.environ.get("BENCH_BLOCK_S", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RATE = float(os.environ.get("BENCH_RATE", "50"))
DURATION_S = float(os.environ.get("BENCH_DURATION_S", "60"))
WARMUP_S = float(os.environ.get("BENCH_WARMUP_S", "5"))
WORKERS = 2
KITS = 100
DAGS = 50
HIGH = "1000000000"

DAG_FILE = """
from datetime import datetime
from airflow import DAG
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator

for i in range({n}):
    with DAG(f"bench_dag_{{i:03d}}", start_date=datetime(2024, 1, 1), schedule=None, tags=["bench"]) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    globals()[f"dag_{{i}}"] = dag
"""


def airflow_dags_path() -> str:
    return "/api/v2/dags" if harness.airflow_major() >= 3 else "/api/v1/dags"


def setup(home: Path, db_url: str) -> tuple[dict[str, str], int]:
    port = harness.free_port()
    env = harness.airflow_env(
        home, sql_alchemy_conn=db_url.replace("postgresql://", "postgresql+psycopg2://")
    )
    dags = home / "bench_dags"
    dags.mkdir(exist_ok=True)
    (dags / "bench_dags.py").write_text(DAG_FILE.format(n=DAGS))
    env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__API__WORKERS": str(WORKERS),
            "AIRFLOW__WEBSERVER__WORKERS": str(WORKERS),
            "AIRFLOW__PLATFORM__RATE_LIMIT_GET": f"{HIGH}/minute",
            "AIRFLOW__PLATFORM__RATE_LIMIT_WRITE": f"{HIGH}/minute",
            "AIRFLOW__PLATFORM__RATE_LIMIT_DELETE": f"{HIGH}/minute",
            "AIRFLOW__PLATFORM__RATE_LIMIT_QUERY": f"{HIGH}/hour",
            "AIRFLOW__PLATFORM__RATE_LIMIT_BULK": f"{HIGH}/minute",
        }
    )
    if harness.airflow_major() >= 3:
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    harness.prepare_airflow_home(env)
    harness.run_airflow(env, "dags", "reserialize")
    harness.platform_admin(env, "demo", "seed")
    return env, port


def register_kits(client: httpx.Client) -> list[str]:
    names = []
    for i in range(KITS):
        name = f"bench-kit-{i:03d}"
        body = {
            "name": name,
            "version": "1.0.0",
            "description": f"Bench kit {i}",
            "image": f"registry.local/bench/{name}:1.0.0",
            "inputs": [{"name": "raw", "type": "table"}],
            "outputs": [{"name": "clean", "type": "table"}],
            "tags": ["bench"],
        }
        r = client.post("/api/v1/datakits", json=body)
        assert r.status_code in (200, 201, 409), r.text
        names.append(name)
    return names


def closed_loop(base_url: str, key: str, path: str, seconds: float) -> tuple[float, list[float]]:
    """CONCURRENCY threads issuing GETs back to back for ``seconds``: (requests/s, latencies)."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=60) as client:
            mine = []
            while time.perf_counter() < stop:
                start = time.perf_counter()
                r = client.get(path)
                mine.append(time.perf_counter() - start)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
            with lock:
                latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors, f"{path}: {len(errors)} errors, first: {errors[0]}"
    return len(latencies) / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def mixed(
    base_url: str, key: str, kits: list[str], duration_s: float = DURATION_S
) -> tuple[list[float], list[str], dict[str, list[float]]]:
    """RATE requests/s for ``duration_s``, round-robin over the mix; latency from each request's due time."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=30)
        return local.client

    counter = itertools.count()
    mix: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("list datakits", lambda: client().get("/api/v1/datakits", params={"limit": 100})),
        ("get datakit", lambda: client().get(f"/api/v1/datakits/{kits[next(counter) % len(kits)]}")),
        (
            "small query",
            lambda: client().post(
                "/api/v1/analytics/query",
                json={
                    "query": "SELECT count(*) AS n, sum(total_amount) AS total FROM gold.fact_orders "
                    "WHERE customer_id = :c",
                    "parameters": {"c": next(counter) % 50 + 1},
                },
            ),
        ),
        ("graphql", lambda: client().post("/graphql", json={"query": "{ dags(limit: 10) { totalCount } }"})),
        ("airflow dags", lambda: client().get(airflow_dags_path(), params={"limit": 100})),
    ]
    latencies: list[float] = []
    errors: list[str] = []
    by_kind: dict[str, list[float]] = {name: [] for name, _ in mix}
    lock = threading.Lock()
    total = int(RATE * duration_s)
    t0 = time.perf_counter() + 0.5

    def one(i: int) -> None:
        due = t0 + i / RATE
        name, call = mix[i % len(mix)]
        try:
            r = call()
            ok = r.status_code == 200
            detail = f"{name}: {r.status_code} {r.text[:200]}"
        except httpx.HTTPError as e:
            ok, detail = False, f"{name}: {e!r}"
        took = time.perf_counter() - due
        with lock:
            latencies.append(took)
            by_kind[name].append(took)
            if not ok:
                errors.append(detail)

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(total):
            delay = t0 + i / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    return latencies, errors, by_kind


def main() -> None:
    pg = harness.postgres_url()
    if pg is None:
        raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432: run `scripts/services.sh start`")
    with harness.fresh_postgres_database(pg) as db_url:
        home = Path(tempfile.mkdtemp(prefix="bench-load-"))
        env, port = setup(home, db_url)
        os.environ.update(env)
        key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench load")
        with harness.running_server(env, port, home) as server:
            base = server.base_url
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as admin:
                kits = register_kits(admin)
                listed = admin.get("/api/v1/datakits", params={"limit": 100}).json()
                dags = admin.get(airflow_dags_path(), params={"limit": 100}).json()
                print(
                    f"datakits listed: {len(listed.get('datakits', listed.get('items', [])))}, "
                    f"total {listed.get('total_entries')}; Airflow DAGs listed: {dags.get('total_entries')}"
                )
            ours_path = "/api/v1/datakits?limit=100"
            theirs_path = f"{airflow_dags_path()}?limit=100"
            for path in (ours_path, theirs_path):  # warm every worker (imports, caches, connections)
                closed_loop(base, key, path, 2)
            ours, theirs = [], []
            lat_ours: list[float] = []
            lat_theirs: list[float] = []
            for _ in range(ROUNDS):
                rps, lat = closed_loop(base, key, ours_path, BLOCK_S)
                ours.append(rps)
                lat_ours += lat
                rps, lat = closed_loop(base, key, theirs_path, BLOCK_S)
                theirs.append(rps)
                lat_theirs += lat
            o, t = statistics.median(ours), statistics.median(theirs)
            print(
                f"(a) {CONCURRENCY} threads, {ROUNDS} alternating blocks of {BLOCK_S:g} s, "
                f"{WORKERS} workers, PostgreSQL metadata DB"
            )
            print(
                f"    GET {ours_path}: {o:.0f} req/s "
                f"(p50 {pct(lat_ours, 0.5):.1f} ms, p99 {pct(lat_ours, 0.99):.1f} ms)"
            )
            print(
                f"    GET {theirs_path}: {t:.0f} req/s "
                f"(p50 {pct(lat_theirs, 0.5):.1f} ms, p99 {pct(lat_theirs, 0.99):.1f} ms)"
            )
            ratio = o / t
            print(f"platform_vs_airflow_rps_ratio: {ratio:.2f}")
            # Every route of the mix warmed in every worker first (imports, the warehouse file,
            # the GraphQL schema), as (a) warms its two: (b) measures serving, not a cold start.
            # What the cold start cost is printed, not hidden.
            _, warm_errors, cold = mixed(base, key, kits, WARMUP_S)
            assert not warm_errors, warm_errors[:3]
            print(
                f"warm-up: the mix at {RATE:g} req/s for {WARMUP_S:g} s; slowest request per kind: "
                + ", ".join(f"{name} {max(values) * 1000:.0f} ms" for name, values in cold.items())
            )
            latencies, errors, by_kind = mixed(base, key, kits)
            print(f"(b) mixed workload, {RATE:g} req/s for {DURATION_S:g} s: {len(latencies)} requests")
            for name, values in by_kind.items():
                print(f"    {name}: p50 {pct(values, 0.5):.1f} ms, p99 {pct(values, 0.99):.1f} ms")
            for line in errors[:5]:
                print(f"    error: {line}")
            print(f"load_errors_at_50rps: {len(errors)}")
            print(f"platform_vs_airflow_rps_ratio: {ratio:.2f}")
            print(f"load_p99_ms_at_50rps: {pct(latencies, 0.99):.1f}")


if __name__ == "__main__":
    main()
