"""The outbox: delivery rows queued, claimed under a lease, and completed.

A delivery row exists before anything is sent, and its id never changes: whatever dies between
the event and the receiver's answer, the row is still pending and another dispatcher sends it
again, under the same ``webhook-id``, once the lease runs out. Claims are one conditional UPDATE
(status still pending, lease free or expired) that every database applies atomically per row, so
two dispatchers never hold one delivery at once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from airflow_platform.storage import db
from airflow_platform.storage.tables import webhook_attempts, webhook_deliveries, webhooks

__all__ = ["Claimed", "Hook", "Outcome", "claim", "complete", "enqueue", "insert_new", "owner_name"]


def owner_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def enqueue(conn: sa.engine.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert delivery rows, skipping (webhook, event_key) pairs already queued."""
    insert_new(conn, webhook_deliveries, rows)


def insert_new(conn: sa.engine.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping (not failing on) those whose key another writer inserted first."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).on_conflict_do_nothing(), list(rows))
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).on_conflict_do_nothing(), list(rows))
    else:  # MySQL
        conn.execute(table.insert().prefix_with("IGNORE"), list(rows))


@dataclass(frozen=True)
class Hook:
    """A webhook's sending configuration as one claim read it (shared by its claimed deliveries)."""

    webhook_id: str
    url: str
    headers_encrypted: str | None
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None
    retry_policy: dict[str, Any]


@dataclass
class Claimed:
    """A delivery a dispatcher holds, with what it needs to send it."""

    delivery_id: str
    token: str
    webhook_id: str
    payload: str
    attempts: int
    attempt_base: int
    hook: Hook
    #: When the lease runs out (the claim's clock); no attempt may start that could outlive it.
    lease_until: datetime

    @property
    def retry_policy(self) -> dict[str, Any]:
        return self.hook.retry_policy


@dataclass
class Outcome:
    claimed: Claimed
    at: datetime
    response_status: int | None
    error: str | None
    duration_ms: float
    #: Not attempted (the lease was too close to its end to start one): released, no attempt logged.
    released: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.response_status is not None and 200 <= self.response_status < 300


def _free_lease(now: datetime) -> Any:
    return sa.or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now)


def claim(owner: str, limit: int, lease_seconds: float, now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of enabled webhooks for ``lease_seconds``, oldest due first.

    One UPDATE whose WHERE picks the due rows and re-checks "still pending, lease free" row by row,
    so two dispatchers claiming at once split the rows (PostgreSQL re-evaluates the condition on a
    row another transaction just leased; SQLite and MySQL serialize the statements), and a write
    first: SQLite takes its write lock at the start of the transaction and waits for it instead of
    failing a read-then-write upgrade. Then the rows carrying this claim's token are read back, and
    each of their webhooks once."""
    now = now or db.utcnow()
    token = f"{owner}:{uuid.uuid4().hex[:12]}"
    lease_until = now + timedelta(seconds=lease_seconds)
    d = webhook_deliveries
    due = (
        sa.select(d.c.id)
        .join(webhooks, webhooks.c.webhook_id == d.c.webhook_id)
        .where(
            d.c.status == "pending", d.c.next_attempt_at <= now, _free_lease(now),
            webhooks.c.enabled == sa.true(),
        )
        .order_by(d.c.next_attempt_at)
        .limit(limit)
        .subquery("due")  # a derived table: MySQL refuses LIMIT directly inside IN (...)
    )  # fmt: skip
    with db.transaction() as conn:
        taken = conn.execute(
            d.update()
            .where(d.c.id.in_(sa.select(due.c.id)), d.c.status == "pending", _free_lease(now))
            .values(lease_owner=token, lease_until=lease_until)
        ).rowcount
        if not taken:
            return []
        rows = list(
            conn.execute(
                sa.select(d.c.id, d.c.webhook_id, d.c.payload, d.c.attempts, d.c.attempt_base)
                .where(d.c.lease_owner == token)
                .order_by(d.c.next_attempt_at)
            )
        )
        hooks = {
            h.webhook_id: Hook(
                webhook_id=h.webhook_id, url=h.url, headers_encrypted=h.headers_encrypted,
                secret_encrypted=h.secret_encrypted, previous_secret_encrypted=h.previous_secret_encrypted,
                previous_secret_expires_at=db.as_utc(h.previous_secret_expires_at),
                retry_policy=dict(h.retry_policy or {}),
            )
            for h in conn.execute(
                sa.select(
                    webhooks.c.webhook_id, webhooks.c.url, webhooks.c.headers_encrypted,
                    webhooks.c.secret_encrypted, webhooks.c.previous_secret_encrypted,
                    webhooks.c.previous_secret_expires_at, webhooks.c.retry_policy,
                ).where(webhooks.c.webhook_id.in_({r.webhook_id for r in rows}))
            )
        }  # fmt: skip
    return [
        Claimed(
            delivery_id=r.id, token=token, webhook_id=r.webhook_id, payload=r.payload,
            attempts=int(r.attempts), attempt_base=int(r.attempt_base), hook=hooks[r.webhook_id],
            lease_until=lease_until,
        )
        for r in rows
        if r.webhook_id in hooks  # deleted meanwhile: its delivery rows went with it
    ]  # fmt: skip


def next_state(
    attempts: int, attempt_base: int, policy: dict[str, Any], ok: bool, now: datetime
) -> dict[str, Any]:
    """Status and next attempt after ``attempts`` attempts (the one just made included)."""
    if ok:
        return {"status": "succeeded", "next_attempt_at": None, "delivered_at": now}
    used = attempts - attempt_base
    if used >= int(policy.get("max_attempts", 3)):
        return {"status": "failed", "next_attempt_at": None}
    backoff = list(policy.get("backoff_seconds") or [10, 30, 60])
    wait = backoff[min(used - 1, len(backoff) - 1)]
    return {"status": "pending", "next_attempt_at": now + timedelta(seconds=wait)}


def complete(outcomes: Sequence[Outcome]) -> None:
    """Record attempts and move each delivery on, in one transaction (an INSERT of the attempts and
    one UPDATE executed for many rows). A delivery whose lease was lost meanwhile (redelivered, or
    expired and taken) keeps its new state; its attempt is logged. Released ones only drop the lease."""
    if not outcomes:
        return
    d = webhook_deliveries
    attempted = [o for o in outcomes if not o.released]
    released = [o for o in outcomes if o.released]
    with db.transaction() as conn:
        if attempted:
            conn.execute(
                webhook_attempts.insert(),
                [
                    {
                        "delivery_id": o.claimed.delivery_id, "attempt": o.claimed.attempts + 1, "at": o.at,
                        "response_status": o.response_status, "error": o.error, "duration_ms": o.duration_ms,
                    }
                    for o in attempted
                ],
            )  # fmt: skip
            rows = []
            for o in attempted:
                c = o.claimed
                state = next_state(c.attempts + 1, c.attempt_base, c.retry_policy, o.ok, o.at)
                rows.append({
                    "b_id": c.delivery_id, "b_token": c.token, "b_status": state["status"],
                    "b_next": state["next_attempt_at"], "b_delivered": state.get("delivered_at"),
                    "b_at": o.at, "b_response": o.response_status, "b_error": o.error,
                    "b_duration": o.duration_ms,
                })  # fmt: skip
            conn.execute(
                d.update()
                .where(d.c.id == sa.bindparam("b_id"), d.c.lease_owner == sa.bindparam("b_token"))
                .values(
                    attempts=d.c.attempts + 1, status=sa.bindparam("b_status"),
                    next_attempt_at=sa.bindparam("b_next"),
                    delivered_at=sa.bindparam("b_delivered"), last_attempt_at=sa.bindparam("b_at"),
                    response_status=sa.bindparam("b_response"), error=sa.bindparam("b_error"),
                    duration_ms=sa.bindparam("b_duration"), lease_owner=None, lease_until=None,
                ),
                rows,
            )  # fmt: skip
        if released:
            conn.execute(
                d.update()
                .where(d.c.id == sa.bindparam("b_id"), d.c.lease_owner == sa.bindparam("b_token"))
                .values(lease_owner=None, lease_until=None),
                [{"b_id": o.claimed.delivery_id, "b_token": o.claimed.token} for o in released],
            )
