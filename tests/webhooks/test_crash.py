"""The issue's crash test: SIGKILL the delivering process in the middle of 200 events, start it again,
and every event arrives at least once, each under exactly one ``webhook-id``.

Runs ``airflow-platform webhooks dispatch`` as a real subprocess against its own AIRFLOW_HOME
(SQLite metadata DB), and a slowish loopback receiver (20 ms a request) so the kill lands mid-way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from standardwebhooks import Webhook as Verifier

from tests import harness
from tests.webhooks.receivers import Receiver

EVENTS = 200
ADMIN_BIN = str(Path(sys.executable).parent / "airflow-platform")

SETUP = """
import sys
from datetime import timedelta
sys.path.insert(0, {repo!r})
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.webhooks import WebhookCreate
from airflow_platform.services.webhooks import WebhookService
from airflow_platform.storage import db
from airflow_platform.storage.tables import webhooks
from airflow_platform.webhooks import collector
from tests.webhooks import runs

admin = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({{"*"}}), via="api_key",
                  is_platform_admin=True)
hook = WebhookCreate(name="crash", url={url!r}, events=["dag.success"],
                     retry_policy={{"max_attempts": 10, "backoff_seconds": [1]}})
made = WebhookService(tenant_exists=lambda t: True).create(admin, hook)
with db.transaction() as conn:  # created a minute ago: the runs below finish after it
    conn.execute(webhooks.update().values(created_at=db.utcnow() - timedelta(seconds=60)))
now = runs.utcnow()
runs.insert_runs([runs.run_row("crash_dag", f"run_{{i}}", "success", now - timedelta(seconds=30), now)
                  for i in range({events})])
print(made.secret)
"""


def _dispatch(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [ADMIN_BIN, "webhooks", "dispatch"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(what: str, check: object, proc: subprocess.Popen[bytes] | None, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the dispatcher exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {limit:.0f} s\n{log.read_text()[-3000:]}")


def test_sigkill_mid_delivery_loses_nothing_and_never_changes_an_id(tmp_path: Path) -> None:
    env = {
        **harness.airflow_env(tmp_path / "home"),
        "AIRFLOW__PLATFORM__WEBHOOK_LEASE_SECONDS": "3",
        "AIRFLOW__PLATFORM__WEBHOOK_POLL_SECONDS": "0.2",
        "AIRFLOW__PLATFORM__WEBHOOK_CONCURRENCY": "4",
        "AIRFLOW__PLATFORM__WEBHOOK_DISPATCHER": "False",
        "PYTHONPATH": str(harness.REPO),
    }
    harness.prepare_airflow_home(env)
    log = tmp_path / "dispatch.log"
    with Receiver(delay=0.02) as rx:
        code = SETUP.format(repo=str(harness.REPO), url=rx.url("/crash"), events=EVENTS)
        setup = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert setup.returncode == 0, setup.stderr[-3000:]
        secret = setup.stdout.strip().splitlines()[-1]

        first = _dispatch(env, log)
        try:
            _wait("a third of the events arrive", lambda: len(rx.requests) >= EVENTS // 3, first, log, 300)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        at_kill = len(rx.requests)
        assert at_kill < EVENTS, "the dispatcher finished before it could be killed; slow the receiver"

        second = _dispatch(env, log)
        try:

            def all_arrived() -> bool:
                return len({r.headers["webhook-id"] for r in rx.requests}) >= EVENTS

            _wait("every event arrives after the restart", all_arrived, second, log, 600)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log.read_text()[-3000:]

    by_id: dict[str, set[str]] = defaultdict(set)
    verifier = Verifier(secret)
    for request in rx.requests:
        payload = verifier.verify(request.body, request.headers)
        by_id[request.headers["webhook-id"]].add(payload["data"]["dag_run_id"])
    runs_by_id = {run for ids in by_id.values() for run in ids}
    # Every event at least once...
    assert runs_by_id == {f"run_{i}" for i in range(EVENTS)}
    # ...and, deduplicated by webhook-id, each event under exactly one id (one id, one event).
    assert all(len(r) == 1 for r in by_id.values())
    assert len(by_id) == EVENTS
    print(f"killed after {at_kill} requests; {len(rx.requests)} requests in all for {EVENTS} events")
