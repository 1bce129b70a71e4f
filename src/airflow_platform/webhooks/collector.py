"""Events from Airflow's own tables, queued in the outbox.

Why read tables and not listen for events: on Airflow 3, task processes cannot touch the metadata
DB (nor our outbox), but the Execution API writes every task's end state into ``task_instance``
(and the scheduler every run's into ``dag_run``), even for a task killed with SIGKILL (the
scheduler then fails it). So the collector reads ``dag_run``, ``task_instance`` and
``task_instance_history`` (tries that were already retried or cleared) since a cursor, minus an
overlap window for rows that commit late, and turns each (webhook, event) into one delivery row,
in the same transaction that advances the cursor. A unique (webhook, event_key) makes rescans
harmless, and several collectors at once harmless too.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.auth.dag_tenancy import sees_dag
from airflow_platform.storage import db
from airflow_platform.storage.tables import webhook_cursors
from airflow_platform.storage.webhooks import enabled_webhooks, new_delivery_id
from airflow_platform.webhooks import outbox, payloads

log = logging.getLogger(__name__)

CURSOR = "airflow_runs"
_CHUNK = 500
_TASK_EVENTS = {"success": "task.success", "failed": "task.failure", "up_for_retry": "task.retry"}


@dataclass
class Event:
    """``build`` makes the payload's data: only for events not queued yet, since every pass rescans
    the overlap window and building the data of every row in it again was most of a pass's time."""

    type: str
    key: str
    at: datetime
    dag_id: str
    build: Callable[[], dict[str, Any]]

    @property
    def data(self) -> dict[str, Any]:
        return self.build()


def _run_data(run: Any, date_column: str) -> dict[str, Any]:
    return payloads.run_data(
        dag_id=run.dag_id, run_id=run.run_id, logical_date=getattr(run, date_column),
        start_date=run.start_date, end_date=run.end_date, state=run.state, conf=run.conf,
        external_trigger=compat.dag_run_external_trigger(run), run_type=run.run_type,
    )  # fmt: skip


def _run_columns(dag_run: sa.Table, date_column: str) -> list[Any]:
    names = ["dag_id", "run_id", "state", "start_date", "end_date", "conf", "run_type", date_column]
    if "external_trigger" in dag_run.c:
        names.append("external_trigger")
    return [dag_run.c[n] for n in names]


def _dag_events(conn: sa.engine.Connection, since: datetime, wanted: set[str]) -> list[Event]:
    dag_run = compat.run_tables()[0]
    date_column = compat.dag_run_date_column()
    columns = _run_columns(dag_run, date_column)
    events: list[Event] = []
    if wanted & {"dag.success", "dag.failure"}:
        for run in conn.execute(
            sa.select(*columns).where(dag_run.c.end_date >= since, dag_run.c.state.in_(("success", "failed")))
        ):
            kind = "dag.success" if run.state == "success" else "dag.failure"
            end = payloads.iso(run.end_date)
            events.append(
                Event(kind, f"{kind}:{run.dag_id}:{run.run_id}:{end}", run.end_date, run.dag_id,
                      functools.partial(_run_data, run, date_column))
            )  # fmt: skip
    if "dag.running" in wanted:
        for run in conn.execute(sa.select(*columns).where(dag_run.c.start_date >= since)):
            start = payloads.iso(run.start_date)
            events.append(
                Event("dag.running", f"dag.running:{run.dag_id}:{run.run_id}:{start}", run.start_date,
                      run.dag_id, functools.partial(_running_data, run, date_column))
            )  # fmt: skip
    return events


def _running_data(run: Any, date_column: str) -> dict[str, Any]:
    data = _run_data(run, date_column)
    data.update(state="running", end_date=None, duration_seconds=None)
    return data


def _task_data(row: Any, date_column: str, retry_from_history: bool) -> dict[str, Any]:
    data = _run_data(_RunView(row), date_column)
    data.update(
        task_id=row.task_id, map_index=row.map_index, try_number=row.try_number,
        start_date=payloads.iso(row.start_date), end_date=payloads.iso(row.end_date),
        duration_seconds=payloads.duration_seconds(row.start_date, row.end_date), state=row.state,
    )  # fmt: skip
    if retry_from_history:
        data["state"] = "up_for_retry"
    return data


def _task_kind(state: str, try_number: int, max_tries: int | None, history: bool) -> str | None:
    if not history:
        return _TASK_EVENTS.get(state)
    # A history row is a try that was retried or cleared. Airflow records a try that was still
    # up_for_retry as "failed" there, so a try with tries left was a retry.
    if state == "success":
        return "task.success"
    if state in ("failed", "up_for_retry"):
        return "task.retry" if max_tries is not None and try_number <= max_tries else "task.failure"
    return None


def _task_events(conn: sa.engine.Connection, since: datetime, wanted: set[str]) -> list[Event]:
    dag_run, task_instance, history, _ = compat.run_tables()
    date_column = compat.dag_run_date_column()
    run_columns = [c.label(f"run_{c.name}") for c in _run_columns(dag_run, date_column)]
    events: list[Event] = []
    for table, is_history in ((task_instance, False), (history, True)):
        states = ("success", "failed", "up_for_retry")
        query = (
            sa.select(
                table.c.task_id, table.c.map_index, table.c.try_number, table.c.max_tries, table.c.state,
                table.c.start_date, table.c.end_date, *run_columns,
            )
            .join(dag_run, sa.and_(dag_run.c.dag_id == table.c.dag_id, dag_run.c.run_id == table.c.run_id))
            .where(table.c.end_date >= since, table.c.state.in_(states))
        )  # fmt: skip
        for row in conn.execute(query):
            kind = _task_kind(row.state, int(row.try_number), row.max_tries, is_history)
            if kind is None or kind not in wanted:
                continue
            build = functools.partial(_task_data, row, date_column, is_history and kind == "task.retry")
            key = f"{kind}:{row.run_dag_id}:{row.run_run_id}:{row.task_id}:{row.map_index}:{row.try_number}"
            events.append(Event(kind, key, row.end_date, row.run_dag_id, build))
    return events


class _RunView:
    """The ``run_*`` columns of a task row, read like a dag_run row."""

    def __init__(self, row: Any) -> None:
        for name, value in row._mapping.items():
            if name.startswith("run_"):
                setattr(self, name[4:], value)


def _tags(conn: sa.engine.Connection, dag_ids: Iterable[str]) -> dict[str, set[str]]:
    dag_tag = compat.run_tables()[3]
    tags: dict[str, set[str]] = defaultdict(set)
    ids = sorted(set(dag_ids))
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(
            sa.select(dag_tag.c.dag_id, dag_tag.c.name).where(dag_tag.c.dag_id.in_(ids[i : i + _CHUNK]))
        ):
            tags[row.dag_id].add(row.name)
    return tags


def matches(hook: Any, event: Event, tags: set[str]) -> bool:
    """Subscribed, filters pass, the tenant wall allows the DAG, and the hook existed already."""
    if event.type not in (hook.events or []):
        return False
    if event.at < db.as_utc(hook.created_at):  # type: ignore[operator]
        return False
    if not sees_dag(hook.tenant_id, tags):  # the same wall as GraphQL: untagged DAGs are "default"'s
        return False
    filters = hook.filters or {}
    if filters.get("dag_ids") and event.dag_id not in filters["dag_ids"]:
        return False
    return not (filters.get("tags") and not tags.intersection(filters["tags"]))


def _queued(conn: sa.engine.Connection, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (webhook, event key) pairs are in the outbox already (rescans skip them early)."""
    from airflow_platform.storage.tables import webhook_deliveries as d

    found: set[tuple[str, str]] = set()
    by_hook: dict[str, list[str]] = defaultdict(list)
    for webhook_id, key in pairs:
        by_hook[webhook_id].append(key)
    for webhook_id, keys in by_hook.items():
        for i in range(0, len(keys), _CHUNK):
            found.update(
                (webhook_id, r.event_key)
                for r in conn.execute(
                    sa.select(d.c.event_key).where(
                        d.c.webhook_id == webhook_id, d.c.event_key.in_(keys[i : i + _CHUNK])
                    )
                )
            )
    return found


def _read_cursor(conn: sa.engine.Connection) -> datetime | None:
    value = conn.execute(
        sa.select(webhook_cursors.c.position).where(webhook_cursors.c.name == CURSOR)
    ).scalar()
    return db.as_utc(value)


def _write_cursor(conn: sa.engine.Connection, position: datetime, existed: bool) -> None:
    """Only forward. Two collectors that both found no cursor (every API-server process runs one)
    both insert it: the second insert is skipped, not failed, and the update moves it on."""
    if not existed:
        outbox.insert_new(
            conn, webhook_cursors, [{"name": CURSOR, "position": position, "updated_at": position}]
        )
    conn.execute(
        webhook_cursors.update()
        .where(webhook_cursors.c.name == CURSOR, webhook_cursors.c.position < position)
        .values(position=position, updated_at=position)
    )


def collect(now: datetime | None = None, overlap_seconds: float | None = None) -> int:
    """One pass: queue every new event for every webhook it concerns; answers how many rows were
    offered to the outbox (rescanned events are skipped by the outbox, not counted out here)."""
    from airflow_platform import config

    now = now or db.utcnow()
    overlap = timedelta(
        seconds=config.get_int("webhook_collect_overlap_seconds")
        if overlap_seconds is None
        else overlap_seconds
    )
    with db.transaction() as conn:
        hooks = enabled_webhooks(conn)
        cursor = _read_cursor(conn)
        if not hooks:
            _write_cursor(conn, now, cursor is not None)
            return 0
        oldest_hook: datetime = min(db.as_utc(h.created_at) or now for h in hooks)
        # First pass: from the oldest webhook on (nothing before it could be delivered anyway).
        since = oldest_hook if cursor is None else max(cursor - overlap, oldest_hook)
        wanted = {e for h in hooks for e in (h.events or [])}
        events = _dag_events(conn, since, wanted)
        if wanted & set(_TASK_EVENTS.values()):
            events += _task_events(conn, since, wanted)
        rows: list[dict[str, Any]] = []
        if events:
            needs_tags = any(h.tenant_id is not None or (h.filters or {}).get("tags") for h in hooks)
            tags = _tags(conn, (e.dag_id for e in events)) if needs_tags else {}
            pairs = []
            for event in events:
                event.at = db.as_utc(event.at)  # type: ignore[assignment]
                pairs += [(h, event) for h in hooks if matches(h, event, tags.get(event.dag_id, set()))]
            queued = _queued(conn, {(h.webhook_id, e.key) for h, e in pairs})
            bodies: dict[str, str] = {}
            for hook, event in pairs:
                if (hook.webhook_id, event.key) in queued:
                    continue
                body = bodies.get(event.key) or payloads.body(event.type, event.at, event.data)
                bodies[event.key] = body
                rows.append({
                    "id": new_delivery_id(), "webhook_id": hook.webhook_id, "event": event.type,
                    "event_key": event.key, "event_at": event.at, "payload": body, "status": "pending",
                    "attempts": 0, "attempt_base": 0, "next_attempt_at": now, "created_at": now,
                })  # fmt: skip
        for i in range(0, len(rows), _CHUNK):
            outbox.enqueue(conn, rows[i : i + _CHUNK])
        _write_cursor(conn, now, cursor is not None)
    if rows:
        log.debug("webhook collector queued %d deliveries", len(rows))
    return len(rows)
