"""Webhooks: subscriptions to DAG and task events, their secrets, the delivery log and redelivery.

Delivery itself is the dispatcher's (``webhooks.dispatcher``); this service only writes the
configuration and reads and re-arms the outbox, except for the test event, which it sends right
away through the same signing and sender path so that the caller sees the receiver's answer.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson

from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import ResourceNotFoundError, ValidationError
from airflow_platform.schemas.webhooks import (
    MASK,
    TEST_EVENT,
    Delivery,
    DeliveryAttempt,
    DeliveryDetail,
    RetryPolicy,
    SecretRotated,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookFilters,
    WebhookUpdate,
)
from airflow_platform.services.ownership import owner_for_new
from airflow_platform.storage import db
from airflow_platform.storage import webhooks as store
from airflow_platform.webhooks import payloads

_sender_lock = threading.Lock()
_sender: Any = None


def shared_sender() -> Any:
    """One pooled sender per process for test deliveries."""
    global _sender
    with _sender_lock:
        if _sender is None:
            from airflow_platform.webhooks.sender import WebhookSender

            _sender = WebhookSender()
        return _sender


def _to_model(row: Any) -> Webhook:
    filters = row.filters or {}
    return Webhook(
        webhook_id=row.webhook_id,
        name=row.name,
        description=row.description,
        url=row.url,
        events=list(row.events or []),
        filters={"dag_ids": list(filters.get("dag_ids") or []), "tags": list(filters.get("tags") or [])},
        headers={name: MASK for name in row.header_names or []},
        retry_policy=dict(row.retry_policy or {}),
        enabled=bool(row.enabled),
        tenant_id=row.tenant_id,
        created_by=row.created_by,
        created_at=db.as_utc(row.created_at),
        updated_at=db.as_utc(row.updated_at),
        secret_rotated_at=db.as_utc(row.secret_rotated_at),
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        delivery_id=row.id,
        webhook_id=row.webhook_id,
        event=row.event,
        status=row.status,
        attempts=int(row.attempts),
        created_at=db.as_utc(row.created_at),
        last_attempt_at=db.as_utc(row.last_attempt_at),
        next_attempt_at=db.as_utc(row.next_attempt_at) if row.status == "pending" else None,
        delivered_at=db.as_utc(row.delivered_at),
        response_status=row.response_status,
        error=row.error,
        duration_ms=row.duration_ms,
    )


class WebhookService:
    def __init__(
        self,
        tenant_exists: Callable[[str], bool],
        check_url: Callable[[str], Any] | None = None,
        grace_seconds: int = 86400,
        sender: Any = None,
    ) -> None:
        self.tenant_exists = tenant_exists
        if check_url is None:
            from airflow_platform.webhooks.url_guard import check_url as guard

            check_url = guard
        self.check_url = check_url
        self.grace_seconds = grace_seconds
        self._sender = sender

    # --- visibility ------------------------------------------------------------------------------

    @staticmethod
    def _scope(principal: Principal) -> tuple[str | None, bool]:
        return principal.tenant_id, principal.tenant_id is None

    def _row(self, principal: Principal, webhook_id: str) -> Any:
        tenant, everyone = self._scope(principal)
        row = store.get_webhook(webhook_id, tenant, everyone)
        if row is None:
            raise ResourceNotFoundError(
                f"Webhook {webhook_id!r} not found.", details={"webhook_id": webhook_id}
            )
        return row

    # --- CRUD ------------------------------------------------------------------------------------

    def create(self, principal: Principal, body: WebhookCreate) -> WebhookCreated:
        from airflow_platform.webhooks.signing import new_secret

        tenant = owner_for_new(principal, body.tenant_id, self.tenant_exists, "webhook")
        self.check_url(body.url)
        now = db.utcnow()
        secret = new_secret()
        webhook_id = store.new_webhook_id()
        store.insert_webhook({
            "webhook_id": webhook_id, "tenant_id": tenant, "name": body.name, "description": body.description,
            "url": body.url, "events": list(body.events), "filters": body.filters.model_dump(),
            "header_names": sorted(body.headers), "headers_encrypted": store.encrypt_headers(body.headers),
            "retry_policy": body.retry_policy.model_dump(), "enabled": body.enabled,
            "secret_encrypted": store.encrypt(secret), "previous_secret_encrypted": None,
            "previous_secret_expires_at": None, "secret_rotated_at": None, "created_by": principal.username,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
        created = self.get(principal, webhook_id)
        return WebhookCreated(**created.model_dump(), secret=secret)

    def get(self, principal: Principal, webhook_id: str) -> Webhook:
        return _to_model(self._row(principal, webhook_id))

    def list(
        self, principal: Principal, limit: int, offset: int, event: str | None, enabled: bool | None
    ) -> tuple[builtins.list[Webhook], int]:
        tenant, everyone = self._scope(principal)
        rows = store.list_webhooks(tenant, everyone, limit, offset, enabled)
        if event is not None:
            rows = [r for r in rows if event in (r.events or [])]
        return [_to_model(r) for r in rows[offset : offset + limit]], len(rows)

    def update(self, principal: Principal, webhook_id: str, body: WebhookUpdate) -> Webhook:
        self._row(principal, webhook_id)
        given = body.model_fields_set
        values: dict[str, Any] = {}
        for name in ("name", "description", "enabled"):
            if name in given:
                values[name] = getattr(body, name)
        for name in ("name", "enabled"):
            if name in values and values[name] is None:
                raise ValidationError(f"{name} cannot be null.", details={"field": name})
        if "url" in given and body.url is not None:
            self.check_url(body.url)
            values["url"] = body.url
        if "events" in given and body.events is not None:
            values["events"] = list(body.events)
        if "filters" in given:
            values["filters"] = (body.filters or WebhookFilters()).model_dump()
        if "headers" in given:
            headers = body.headers or {}
            values["header_names"] = sorted(headers)
            values["headers_encrypted"] = store.encrypt_headers(headers)
        if "retry_policy" in given:
            values["retry_policy"] = (body.retry_policy or RetryPolicy()).model_dump()
        if values:
            values["updated_at"] = db.utcnow()
            store.update_webhook(webhook_id, values)
        return self.get(principal, webhook_id)

    def delete(self, principal: Principal, webhook_id: str) -> None:
        self._row(principal, webhook_id)
        store.delete_webhook(webhook_id)

    def rotate_secret(self, principal: Principal, webhook_id: str) -> SecretRotated:
        from airflow_platform.webhooks.signing import new_secret

        row = self._row(principal, webhook_id)
        now = db.utcnow()
        secret = new_secret()
        expires = now + timedelta(seconds=self.grace_seconds)
        store.update_webhook(
            webhook_id,
            {
                "secret_encrypted": store.encrypt(secret), "previous_secret_encrypted": row.secret_encrypted,
                "previous_secret_expires_at": expires, "secret_rotated_at": now, "updated_at": now,
            },
        )  # fmt: skip
        return SecretRotated(webhook_id=webhook_id, secret=secret, previous_secret_expires_at=expires)

    # --- deliveries ------------------------------------------------------------------------------

    def test(self, principal: Principal, webhook_id: str) -> Delivery:
        """Send ``webhook.test`` now (signed, custom headers, URL re-checked by the sender)."""
        from airflow_platform.webhooks.signing import signed_headers

        row = self._row(principal, webhook_id)
        now = db.utcnow()
        delivery_id = store.new_delivery_id()
        body = payloads.test_body(webhook_id, now)
        raw = body.encode()
        headers = {
            **store.decrypt_headers(row.headers_encrypted),
            **signed_headers(store.signing_secrets(row, now), delivery_id, int(time.time()), raw),
        }
        result = (self._sender or shared_sender()).send(row.url, raw, headers)
        ok = result.error is None
        done = db.utcnow()
        store.insert_sent(
            {
                "id": delivery_id, "webhook_id": webhook_id, "event": TEST_EVENT,
                "event_key": f"{TEST_EVENT}:{delivery_id}", "event_at": now, "payload": body,
                "status": "succeeded" if ok else "failed", "attempts": 1, "attempt_base": 0,
                "next_attempt_at": None, "last_attempt_at": now, "delivered_at": done if ok else None,
                "response_status": result.response_status, "error": result.error,
                "duration_ms": result.duration_ms, "created_at": now,
            },
            {
                "delivery_id": delivery_id, "attempt": 1, "at": now,
                "response_status": result.response_status, "error": result.error,
                "duration_ms": result.duration_ms,
            },
        )  # fmt: skip
        return self.delivery(principal, webhook_id, delivery_id)

    def deliveries(
        self,
        principal: Principal,
        webhook_id: str,
        status: str | None,
        event: str | None,
        limit: int,
        offset: int,
    ) -> tuple[builtins.list[Delivery], int]:
        self._row(principal, webhook_id)
        rows, total = store.list_deliveries(webhook_id, status, event, limit, offset)
        return [_delivery(r) for r in rows], total

    def delivery(self, principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryDetail:
        self._row(principal, webhook_id)
        row, attempts = store.get_delivery(webhook_id, delivery_id)
        if row is None:
            raise ResourceNotFoundError(
                f"Delivery {delivery_id!r} of webhook {webhook_id!r} not found.",
                details={"webhook_id": webhook_id, "delivery_id": delivery_id},
            )
        return DeliveryDetail(
            **_delivery(row).model_dump(),
            payload=orjson.loads(row.payload),
            attempt_log=[
                DeliveryAttempt(
                    attempt=a.attempt, at=db.as_utc(a.at), response_status=a.response_status, error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in attempts
            ],
        )  # fmt: skip

    def redeliver(self, principal: Principal, webhook_id: str, delivery_id: str) -> Delivery:
        self.delivery(principal, webhook_id, delivery_id)
        store.redeliver(delivery_id, db.utcnow())
        detail = self.delivery(principal, webhook_id, delivery_id)
        return Delivery(**detail.model_dump(exclude={"payload", "attempt_log"}))
