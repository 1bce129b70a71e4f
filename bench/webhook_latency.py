"""Event-to-delivery latency of webhooks: 1,000 DAG runs finishing, delivered to a loopback receiver.

Sets up its own AIRFLOW_HOME (SQLite metadata DB, or with ``BENCH_DB=postgres`` a throw-away
database on 127.0.0.1:5432 as platform/platform; the platform's tables), one webhook on
``dag.success`` pointing at a loopback receiver, and ``airflow-platform webhooks dispatch`` as a
process of its own with the shipped settings. Once one warm-up run has been delivered (the
dispatcher's start is not what is measured), 1,000 running DAG runs finish as a scheduler would
finish them, in batches of 100 every 0.5 s (``state=success``, ``end_date=now`` in ``dag_run``).
Event time is the run's ``end_date``; delivery time is when the receiver has read the first request
for that run. An event that never arrives counts as infinitely late. Prints the 95th percentile as
the last line, ``webhook_p95_s: X``.

    make bench NAME=webhook_latency                 # SQLite
    BENCH_DB=postgres make bench NAME=webhook_latency
    BENCH_RECEIVER_DELAY_S=0.05 make bench NAME=webhook_latency   # a receiver answering in 50 ms
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
PAUSE_S = float(os.environ.get("BENCH_PAUSE_S", "0.5"))
DB = os.environ.get("BENCH_DB", "sqlite")
#: Seconds the receiver takes to answer (0: at once; a remote receiver takes tens of milliseconds).
RECEIVER_DELAY_S = float(os.environ.get("BENCH_RECEIVER_DELAY_S", "0"))
DAG_ID = "bench_webhook_dag"


@contextlib.contextmanager
def metadata_db() -> Iterator[str | None]:
    """None for SQLite (harness default), else a fresh PostgreSQL database dropped afterwards."""
    if DB == "sqlite":
        yield None
        return
    if DB != "postgres":
        raise SystemExit(f"BENCH_DB must be sqlite or postgres, not {DB!r}")
    base = harness.postgres_url()
    if base is None:
        raise SystemExit("BENCH_DB=postgres: no PostgreSQL answers (bash scripts/services.sh start)")
    with harness.fresh_postgres_database(base) as url:
        yield url.replace("postgresql://", "postgresql+psycopg2://")


def wait_for(check: object, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    with metadata_db() as sql_alchemy_conn:
        run(sql_alchemy_conn)


def run(sql_alchemy_conn: str | None) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = {**harness.airflow_env(home, sql_alchemy_conn), "AIRFLOW__PLATFORM__WEBHOOK_DISPATCHER": "False"}
    os.environ.update(env)
    harness.prepare_airflow_home(env)

    import orjson
    from tests.webhooks import runs
    from tests.webhooks.receivers import Receiver

    from airflow_platform.auth.principal import Principal
    from airflow_platform.schemas.webhooks import WebhookCreate
    from airflow_platform.services.webhooks import WebhookService

    admin = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key",
                      is_platform_admin=True)  # fmt: skip
    first_seen: dict[str, float] = {}
    with Receiver(delay=RECEIVER_DELAY_S) as rx:
        WebhookService(tenant_exists=lambda t: True).create(
            admin, WebhookCreate(name="bench", url=rx.url("/bench"), events=["dag.success"])
        )
        started = runs.utcnow() - timedelta(minutes=1)
        rows = [runs.run_row(DAG_ID, f"run_{i}", "running", started, None) for i in range(EVENTS)]
        rows.append(runs.run_row(DAG_ID, "warmup", "running", started, None))
        runs.insert_runs(rows)
        log = (home / "dispatch.log").open("ab")
        dispatcher = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow-platform"), "webhooks", "dispatch"],
            env={**os.environ, **env, "PYTHONPATH": str(harness.REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # Warm-up: the dispatcher process is up, has collected and sent once.
            runs.finish_runs(DAG_ID, ["warmup"], "success", datetime.now(timezone.utc))
            if not wait_for(lambda: len(rx.requests) >= 1, 300):
                raise SystemExit(f"the warm-up event never arrived; see {home / 'dispatch.log'}")
            rx.clear()
            ended: dict[str, datetime] = {}
            began = time.monotonic()
            for first in range(0, EVENTS, BATCH):
                ids = [f"run_{i}" for i in range(first, min(first + BATCH, EVENTS))]
                end = datetime.now(timezone.utc)
                runs.finish_runs(DAG_ID, ids, "success", end)
                ended.update(dict.fromkeys(ids, end))
                time.sleep(PAUSE_S)
            wait_for(lambda: len(rx.requests) >= EVENTS, 300)
            took = time.monotonic() - began
        finally:
            dispatcher.terminate()
            dispatcher.wait(timeout=60)
        for request in rx.requests:
            run_id = orjson.loads(request.body)["data"]["dag_run_id"]
            first_seen.setdefault(run_id, request.time)
        duplicates = len(rx.requests) - len(first_seen)
    latencies = sorted(first_seen[r] - ended[r].timestamp() for r in ended if r in first_seen)
    missing = EVENTS - len(latencies)
    latencies += [math.inf] * missing
    p95 = latencies[math.ceil(0.95 * len(latencies)) - 1]
    print(f"metadata DB: {DB}; events: {EVENTS} in batches of {BATCH} every {PAUSE_S} s; "
          f"receiver answers after {RECEIVER_DELAY_S} s")  # fmt: skip
    arrived = EVENTS - missing
    print(f"arrived: {arrived} (+{duplicates} repeated requests) within {took:.1f} s; missing: {missing}")
    print(f"median {statistics.median(latencies):.3f} s, max {latencies[-1]:.3f} s")
    print(f"webhook_p95_s: {p95:.3f}")


if __name__ == "__main__":
    main()
