"""Webhook configuration and delivery log in the metadata DB.

Secrets and header values are Fernet-encrypted with Airflow's own key (``[core] fernet_key``), the
way Airflow stores connection passwords, so a copy of the DB alone does not sign for anyone.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import time
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from airflow_platform.storage import db
from airflow_platform.storage.tables import webhook_attempts, webhook_deliveries, webhooks

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_webhook_id() -> str:
    return f"wh_{pysecrets.token_hex(8)}"


def new_delivery_id() -> str:
    """``msg_`` + a ULID (48-bit milliseconds + 80 random bits, Crockford base32): sortable by time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "msg_" + "".join(reversed(chars))


# --- encryption ------------------------------------------------------------------------------------


def encrypt(value: str) -> str:
    from airflow.models.crypto import get_fernet

    return str(get_fernet().encrypt(value.encode()).decode())


def decrypt(value: str) -> str:
    from airflow.models.crypto import get_fernet

    return str(get_fernet().decrypt(value.encode()).decode())


def encrypt_headers(headers: dict[str, str]) -> str | None:
    return encrypt(orjson.dumps(headers).decode()) if headers else None


def decrypt_headers(value: str | None) -> dict[str, str]:
    return dict(orjson.loads(decrypt(value))) if value else {}


# --- webhooks --------------------------------------------------------------------------------------


def _visible(tenant: str | None, everyone: bool) -> Any:
    return sa.true() if everyone else webhooks.c.tenant_id == tenant


def insert_webhook(values: dict[str, Any]) -> None:
    with db.transaction() as conn:
        conn.execute(webhooks.insert().values(**values))


def get_webhook(webhook_id: str, tenant: str | None, everyone: bool) -> Any | None:
    with db.reading() as conn:
        return conn.execute(
            sa.select(webhooks).where(webhooks.c.webhook_id == webhook_id, _visible(tenant, everyone))
        ).first()


def list_webhooks(
    tenant: str | None, everyone: bool, limit: int, offset: int, enabled: bool | None
) -> list[Any]:
    """Every visible webhook (filtering by event happens in Python: ``events`` is a JSON list)."""
    query = sa.select(webhooks).where(_visible(tenant, everyone))
    if enabled is not None:
        query = query.where(webhooks.c.enabled == enabled)
    with db.reading() as conn:
        return list(conn.execute(query.order_by(webhooks.c.created_at, webhooks.c.webhook_id)))


def update_webhook(webhook_id: str, values: dict[str, Any]) -> None:
    with db.transaction() as conn:
        conn.execute(webhooks.update().where(webhooks.c.webhook_id == webhook_id).values(**values))


def delete_webhook(webhook_id: str) -> None:
    """Its deliveries and their attempts go too (explicitly: SQLite enforces the cascade only with
    ``PRAGMA foreign_keys``)."""
    with db.transaction() as conn:
        ids = sa.select(webhook_deliveries.c.id).where(webhook_deliveries.c.webhook_id == webhook_id)
        conn.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(ids)))
        conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id))
        conn.execute(webhooks.delete().where(webhooks.c.webhook_id == webhook_id))


def delete_tenant_webhooks(conn: sa.engine.Connection, tenant_id: str) -> None:
    """A tenant's forced delete: its webhooks' deliveries and attempts (the webhooks go with the
    other owned tables)."""
    hooks = sa.select(webhooks.c.webhook_id).where(webhooks.c.tenant_id == tenant_id)
    ids = sa.select(webhook_deliveries.c.id).where(webhook_deliveries.c.webhook_id.in_(hooks))
    conn.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(ids)))
    conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id.in_(hooks)))


def enabled_webhooks(conn: sa.engine.Connection) -> list[Any]:
    return list(conn.execute(sa.select(webhooks).where(webhooks.c.enabled == sa.true())))


def signing_secrets(row: Any, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    out = [decrypt(row.secret_encrypted)]
    expires = db.as_utc(row.previous_secret_expires_at)
    if row.previous_secret_encrypted and expires is not None and expires > now:
        out.append(decrypt(row.previous_secret_encrypted))
    return out


# --- deliveries ------------------------------------------------------------------------------------


def list_deliveries(
    webhook_id: str, status: str | None, event: str | None, limit: int, offset: int
) -> tuple[list[Any], int]:
    where = [webhook_deliveries.c.webhook_id == webhook_id]
    if status is not None:
        where.append(webhook_deliveries.c.status == status)
    if event is not None:
        where.append(webhook_deliveries.c.event == event)
    columns = [c for c in webhook_deliveries.c if c.name != "payload"]
    with db.reading() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(webhook_deliveries).where(*where)
        ).scalar_one()
        rows = conn.execute(
            sa.select(*columns)
            .where(*where)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total)


def get_delivery(webhook_id: str, delivery_id: str) -> tuple[Any | None, list[Any]]:
    with db.reading() as conn:
        row = conn.execute(
            sa.select(webhook_deliveries).where(
                webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.webhook_id == webhook_id
            )
        ).first()
        if row is None:
            return None, []
        attempts = conn.execute(
            sa.select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_attempts.c.attempt)
        )
        return row, list(attempts)


def redeliver(delivery_id: str, now: datetime) -> None:
    """Pending again, due now, with a fresh attempt budget; the lease is dropped so any dispatcher
    may take it (one sending it right now finishes its attempt; the id stays the same)."""
    with db.transaction() as conn:
        conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                status="pending",
                next_attempt_at=now,
                attempt_base=webhook_deliveries.c.attempts,
                lease_owner=None,
                lease_until=None,
            )
        )


def insert_sent(values: dict[str, Any], attempt: dict[str, Any]) -> None:
    """A delivery sent outside the outbox (the test event), with its one attempt."""
    with db.transaction() as conn:
        conn.execute(webhook_deliveries.insert().values(**values))
        conn.execute(webhook_attempts.insert().values(**attempt))
