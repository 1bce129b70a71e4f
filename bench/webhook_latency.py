"""Event-to-delivery latency of webhooks: 1,000 DAG runs finishing, delivered to a loopback receiver.

Sets up its own AIRFLOW_HOME (SQLite metadata DB, the platform's tables), one webhook on
``dag.success`` pointing at a loopback receiver, and ``airflow-platform webhooks dispatch`` as a
process of its own with the default settings. Then, as a scheduler would, 1,000 running DAG runs
finish in batches of 100 (``state=success``, ``end_date=now`` in ``dag_run``). Event time is the
run's ``end_date``; delivery time is when the receiver has read the request. Prints the 95th
percentile as the last line, ``webhook_p95_s: X``.

    make bench NAME=webhook_latency
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
PAUSE_S = float(os.environ.get("BENCH_PAUSE_S", "0.5"))
DAG_ID = "bench_webhook_dag"


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = {**harness.airflow_env(home), "AIRFLOW__PLATFORM__WEBHOOK_DISPATCHER": "False"}
    os.environ.update(env)
    harness.prepare_airflow_home(env)

    from tests.webhooks import runs
    from tests.webhooks.receivers import Receiver

    from airflow_platform.auth.principal import Principal
    from airflow_platform.schemas.webhooks import WebhookCreate
    from airflow_platform.services.webhooks import WebhookService

    admin = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key",
                      is_platform_admin=True)  # fmt: skip
    with Receiver() as rx:
        WebhookService(tenant_exists=lambda t: True).create(
            admin, WebhookCreate(name="bench", url=rx.url("/bench"), events=["dag.success"])
        )
        started = runs.utcnow() - timedelta(minutes=1)
        runs.insert_runs([runs.run_row(DAG_ID, f"run_{i}", "running", started, None) for i in range(EVENTS)])
        log = (home / "dispatch.log").open("ab")
        dispatcher = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow-platform"), "webhooks", "dispatch"],
            env={**os.environ, **env, "PYTHONPATH": str(harness.REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(5)  # the dispatcher is up and polling (its start is not what is measured)
            ended: dict[str, datetime] = {}
            for first in range(0, EVENTS, BATCH):
                ids = [f"run_{i}" for i in range(first, min(first + BATCH, EVENTS))]
                end = datetime.now(timezone.utc)
                runs.finish_runs(DAG_ID, ids, "success", end)
                ended.update(dict.fromkeys(ids, end))
                time.sleep(PAUSE_S)
            deadline = time.monotonic() + 300
            while len(rx.requests) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            dispatcher.terminate()
            dispatcher.wait(timeout=60)
        import orjson

        latencies = []
        for request in rx.requests:
            run_id = orjson.loads(request.body)["data"]["dag_run_id"]
            latencies.append(request.time - ended[run_id].timestamp())
    if len(latencies) < EVENTS:
        print(f"only {len(latencies)} of {EVENTS} events arrived within 300 s")
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("inf")
    print(f"events: {len(latencies)}, batches of {BATCH} every {PAUSE_S} s")
    print(f"median {statistics.median(latencies):.3f} s, max {latencies[-1]:.3f} s")
    print(f"webhook_p95_s: {p95:.3f}")


if __name__ == "__main__":
    main()
