"""The collector over real Airflow tables (the session's SQLite metadata DB): which rows become which
events, for which webhooks (events, filters, tenant walls, creation time), and that rescans and
overlapping windows queue each event once.

The session DB holds other tests' DAG runs, and the session's Airflow server (once an earlier test
started it) runs a collector and a dispatcher of its own on it, every half second. So the webhooks
here filter by their own DAGs or are only read for them, the queued rows are what is asserted (the
server's collector may queue some of them first), and the first pass reads far enough back that the
server moving the cursor meanwhile changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.webhooks import WebhookCreate
from airflow_platform.services.webhooks import WebhookService
from airflow_platform.storage import db
from airflow_platform.storage.tables import webhook_cursors, webhook_deliveries, webhooks
from airflow_platform.webhooks import collector
from tests.webhooks import runs

ADMIN = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key",
                  is_platform_admin=True)  # fmt: skip


def service() -> WebhookService:
    return WebhookService(tenant_exists=lambda t: True, check_url=lambda url: None)


@pytest.fixture
def clean(airflow_home: Any) -> Iterator[None]:
    """No webhooks and no cursor before and after (the session DB is shared)."""

    def wipe() -> None:
        with db.transaction() as conn:
            conn.execute(webhook_deliveries.delete())
            conn.execute(webhooks.delete())
            conn.execute(webhook_cursors.delete())

    wipe()
    yield
    wipe()


def make(events: list[str], tenant: str | None = None, **extra: Any) -> str:
    body = WebhookCreate(name="t", url="http://127.0.0.1:9/hook", events=events, tenant_id=tenant, **extra)
    return service().create(ADMIN, body).webhook_id


def backdate(webhook_id: str, seconds: float) -> None:
    """As if the webhook had been created ``seconds`` earlier."""
    with db.transaction() as conn:
        conn.execute(
            webhooks.update()
            .where(webhooks.c.webhook_id == webhook_id)
            .values(created_at=db.utcnow() - timedelta(seconds=seconds))
        )


def queued(webhook_id: str) -> list[Any]:
    with db.reading() as conn:
        return list(
            conn.execute(
                sa.select(webhook_deliveries)
                .where(webhook_deliveries.c.webhook_id == webhook_id)
                .order_by(webhook_deliveries.c.event_key)
            )
        )


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def mine(rows: list[Any], *dag_ids: str) -> list[Any]:
    """The rows about these DAGs (the event key is ``<event>:<dag_id>:...``)."""
    return [r for r in rows if r.event_key.split(":")[1] in dag_ids]


def test_dag_and_task_events_with_the_reference_payload(clean: None) -> None:
    dag_ok, dag_bad = uid("ok"), uid("bad")
    events = ["dag.success", "dag.failure", "dag.running", "task.success", "task.failure", "task.retry"]
    # Ten minutes back, and the DB has other tests' runs of those minutes: only these DAGs' events.
    hook = make(events, filters={"dag_ids": [dag_ok, dag_bad]})
    backdate(hook, 600)
    end = runs.utcnow()
    start = end - timedelta(seconds=330)
    runs.insert_runs([
        runs.run_row(dag_ok, "r1", "success", start, end, conf={"n": 1}),
        runs.run_row(dag_bad, "r1", "failed", start, end, run_type="scheduled"),
    ])  # fmt: skip
    runs.insert_task(dag_bad, "r1", "flaky", "failed", 2, start, end, max_tries=1)
    # The first try, retried already: in task_instance_history (Airflow records it as failed there).
    first_end = start + timedelta(seconds=5)
    runs.insert_task(dag_bad, "r1", "flaky", "failed", 1, start, first_end, max_tries=1, history=True)
    runs.insert_task(dag_ok, "r1", "work", "success", 1, start, end)
    assert collector.collect(overlap_seconds=3600) <= 7  # the server's collector may have queued some

    rows = queued(hook)
    assert len(rows) == 7
    kinds = sorted((r.event, r.event_key.split(":")[1]) for r in rows)
    assert kinds == sorted([
        ("dag.running", dag_ok), ("dag.running", dag_bad), ("dag.success", dag_ok), ("dag.failure", dag_bad),
        ("task.failure", dag_bad), ("task.retry", dag_bad), ("task.success", dag_ok),
    ])  # fmt: skip
    success = next(orjson.loads(r.payload) for r in rows if r.event == "dag.success")
    assert success["event"] == "dag.success"
    assert success["timestamp"].endswith("Z")
    data = success["data"]
    assert data["dag_id"] == dag_ok and data["dag_run_id"] == "r1"
    assert data["state"] == "success" and data["conf"] == {"n": 1}
    assert data["duration_seconds"] == 330
    assert data["external_trigger"] is True and data["run_type"] == "manual"
    assert data["execution_date"].endswith("Z") and data["end_date"].endswith("Z")
    retry = next(orjson.loads(r.payload) for r in rows if r.event == "task.retry")
    wanted = {"task_id": "flaky", "map_index": -1, "try_number": 1, "state": "up_for_retry"}
    assert retry["data"].items() >= wanted.items()
    failure = next(orjson.loads(r.payload) for r in rows if r.event == "task.failure")
    assert failure["data"]["try_number"] == 2 and failure["data"]["external_trigger"] is False
    assert all(r.status == "pending" and r.id.startswith("msg_") and len(r.id) == 30 for r in rows)

    # Rescanning (the overlap window, or a second collector) queues nothing twice.
    assert collector.collect() == 0
    assert collector.collect(overlap_seconds=3600) == 0
    assert len(queued(hook)) == 7


def test_filters_tenant_walls_and_creation_time(clean: None) -> None:
    prod, other, team = uid("prod"), uid("other"), uid("team")
    runs.tag_dag(prod, ["production"])
    runs.tag_dag(other, ["staging"])
    runs.tag_dag(team, ["tenant:team-a"])
    by_tag = make(["dag.success"], filters={"tags": ["production"]})
    by_id = make(["dag.success"], filters={"dag_ids": [other]})
    tenant_a = make(["dag.success"], tenant="team-a")
    tenant_b = make(["dag.success"], tenant="team-b")
    tenant_default = make(["dag.success"], tenant="default")  # untagged DAGs are the default tenant's
    failures_only = make(["dag.failure"])
    now = runs.utcnow()
    old = now - timedelta(hours=1)  # before every webhook existed: never delivered
    runs.insert_runs([
        runs.run_row(prod, "r1", "success", now, now), runs.run_row(other, "r1", "success", now, now),
        runs.run_row(team, "r1", "success", now, now), runs.run_row(team, "r0", "success", old, old),
    ])  # fmt: skip
    collector.collect(overlap_seconds=7200)
    ours = (prod, other, team)
    assert [r.event_key.split(":")[1] for r in mine(queued(by_tag), *ours)] == [prod]
    assert [r.event_key.split(":")[1] for r in queued(by_id)] == [other]
    assert [tuple(r.event_key.split(":")[1:3]) for r in mine(queued(tenant_a), *ours)] == [(team, "r1")]
    assert mine(queued(tenant_b), *ours) == []
    assert {r.event_key.split(":")[1] for r in mine(queued(tenant_default), *ours)} == {prod, other}
    assert mine(queued(failures_only), *ours) == []


def test_disabled_webhooks_get_nothing_and_the_cursor_advances(clean: None) -> None:
    hook = make(["dag.success"], enabled=False)
    now = runs.utcnow()
    runs.insert_runs([runs.run_row(uid("d"), "r1", "success", now, now)])
    assert collector.collect() == 0
    assert queued(hook) == []
    with db.reading() as conn:
        position = conn.execute(sa.select(webhook_cursors.c.position)).scalar_one()
    assert db.as_utc(position) >= now


def test_two_collectors_that_found_no_cursor_both_write_it(clean: None) -> None:
    # Every API-server process collects: two passes may both read "no cursor" and both insert it.
    later = runs.utcnow() + timedelta(hours=1)  # ahead of the session server's collector, if it runs
    with db.transaction() as conn:
        collector._write_cursor(conn, later, existed=False)
    with db.transaction() as conn:
        collector._write_cursor(conn, later + timedelta(seconds=1), existed=False)
    with db.transaction() as conn:
        collector._write_cursor(conn, later, existed=False)  # a slower one: the cursor only moves on
    with db.reading() as conn:
        position = conn.execute(sa.select(webhook_cursors.c.position)).scalar_one()
    assert db.as_utc(position) == later + timedelta(seconds=1)
