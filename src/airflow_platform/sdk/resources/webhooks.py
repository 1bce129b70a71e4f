"""``client.webhooks``: signed HTTP callbacks on DAG and task events (``/api/v1/platform/webhooks``).

The signing secret is in the answers of ``create`` and ``rotate_secret`` only; header values go in
and come back as ``"***"``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from airflow_platform.schemas.webhooks import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    RetryPolicy,
    SecretRotated,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookFilters,
    WebhookList,
    WebhookUpdate,
)
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op, drop_none
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated
from airflow_platform.sdk.server import PLATFORM_PREFIX

BASE = f"{PLATFORM_PREFIX}/webhooks"

#: ``filters`` and ``retry_policy`` as the models or as plain dicts.
Filters = WebhookFilters | Mapping[str, Any]
Retry = RetryPolicy | Mapping[str, Any]


class WebhookPage(SyncPage[Webhook]):
    @property
    def webhooks(self) -> list[Webhook]:
        return self.items


class AsyncWebhookPage(AsyncPage[Webhook]):
    @property
    def webhooks(self) -> list[Webhook]:
        return self.items


class DeliveryPage(SyncPage[Delivery]):
    @property
    def deliveries(self) -> list[Delivery]:
        return self.items


class AsyncDeliveryPage(AsyncPage[Delivery]):
    @property
    def deliveries(self) -> list[Delivery]:
        return self.items


def _path(webhook_id: str) -> str:
    return f"{BASE}/{seg(webhook_id)}"


def _delivery_path(webhook_id: str, delivery_id: str) -> str:
    return f"{_path(webhook_id)}/deliveries/{seg(delivery_id)}"


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _create_body(**fields: Any) -> WebhookCreate:
    """Fields left as ``None`` are not sent, so that the server's defaults apply."""
    return validated(WebhookCreate, **{k: v for k, v in fields.items() if v is not None})


def _update_body(fields: dict[str, Any]) -> WebhookUpdate:
    """Only the fields given are sent (``description=None`` clears the description)."""
    return validated(WebhookUpdate, **fields)


class _WebhookOps(Ops):
    def _create(self, body: WebhookCreate) -> Op[WebhookCreated]:
        data = yield Call("POST", BASE, json=body.model_dump(mode="json", exclude_unset=True))
        return WebhookCreated.model_validate(data)

    def _list(self, limit: int, event: str | None, enabled: bool | None) -> PageOp[Webhook]:
        def op(offset: int) -> Op[PageData[Webhook]]:
            params = drop_none({"limit": limit, "offset": offset, "event": event, "enabled": _flag(enabled)})
            page = WebhookList.model_validate((yield Call("GET", BASE, params=params)))
            return PageData(page.webhooks, page.total, limit, offset)

        return op

    def _get(self, webhook_id: str) -> Op[Webhook]:
        return Webhook.model_validate((yield Call("GET", _path(webhook_id))))

    def _update(self, webhook_id: str, body: WebhookUpdate) -> Op[Webhook]:
        data = yield Call("PATCH", _path(webhook_id), json=body.model_dump(mode="json", exclude_unset=True))
        return Webhook.model_validate(data)

    def _delete(self, webhook_id: str) -> Op[None]:
        yield Call("DELETE", _path(webhook_id), expect="none")

    def _rotate_secret(self, webhook_id: str) -> Op[SecretRotated]:
        return SecretRotated.model_validate((yield Call("POST", f"{_path(webhook_id)}/rotate-secret")))

    def _test(self, webhook_id: str) -> Op[Delivery]:
        return Delivery.model_validate((yield Call("POST", f"{_path(webhook_id)}/test")))

    def _deliveries(
        self, webhook_id: str, limit: int, status: str | None, event: str | None
    ) -> PageOp[Delivery]:
        path = f"{_path(webhook_id)}/deliveries"

        def op(offset: int) -> Op[PageData[Delivery]]:
            params = drop_none({"limit": limit, "offset": offset, "status": status, "event": event})
            page = DeliveryList.model_validate((yield Call("GET", path, params=params)))
            return PageData(page.deliveries, page.total, limit, offset)

        return op

    def _delivery(self, webhook_id: str, delivery_id: str) -> Op[DeliveryDetail]:
        return DeliveryDetail.model_validate((yield Call("GET", _delivery_path(webhook_id, delivery_id))))

    def _redeliver(self, webhook_id: str, delivery_id: str) -> Op[Delivery]:
        data = yield Call("POST", f"{_delivery_path(webhook_id, delivery_id)}/redeliver")
        return Delivery.model_validate(data)


class Webhooks(_WebhookOps, SyncResource):
    def create(
        self,
        name: str,
        url: str,
        events: builtins.list[str],
        *,
        filters: Filters | None = None,
        headers: Mapping[str, str] | None = None,
        retry_policy: Retry | None = None,
        enabled: bool = True,
        description: str | None = None,
        tenant_id: str | None = None,
    ) -> WebhookCreated:
        """The answer's ``secret`` (``whsec_…``) signs every delivery and is shown this once.

        The server refuses URLs that resolve to non-public addresses unless allow-listed.
        """
        body = _create_body(
            name=name,
            url=url,
            events=events,
            filters=filters,
            headers=headers,
            retry_policy=retry_policy,
            enabled=enabled,
            description=description,
            tenant_id=tenant_id,
        )
        return self._run(self._create(body))

    def list(
        self, *, event: str | None = None, enabled: bool | None = None, limit: int = 100, offset: int = 0
    ) -> WebhookPage:
        """One page; iterating it walks every page."""
        return self._page(WebhookPage, self._list(limit, event, enabled), offset)

    def get(self, webhook_id: str) -> Webhook:
        return self._run(self._get(webhook_id))

    def update(self, webhook_id: str, **fields: Any) -> Webhook:
        """PATCH: only the fields given change; ``headers`` replaces the whole map."""
        return self._run(self._update(webhook_id, _update_body(fields)))

    def delete(self, webhook_id: str) -> None:
        """Its delivery log goes too."""
        self._run(self._delete(webhook_id))

    def rotate_secret(self, webhook_id: str) -> SecretRotated:
        """A new secret, shown once; the old one keeps signing until ``previous_secret_expires_at``."""
        return self._run(self._rotate_secret(webhook_id))

    def test(self, webhook_id: str) -> Delivery:
        """Send a ``webhook.test`` event now and answer how it went (``status``, ``response_status``)."""
        return self._run(self._test(webhook_id))

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        event: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> DeliveryPage:
        """Newest first; iterating the page walks every page."""
        return self._page(DeliveryPage, self._deliveries(webhook_id, limit, status, event), offset)

    def delivery(self, webhook_id: str, delivery_id: str) -> DeliveryDetail:
        """One delivery with its ``payload`` and ``attempt_log``."""
        return self._run(self._delivery(webhook_id, delivery_id))

    def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Send it again (the same ``webhook-id``, so receivers can dedupe), with a fresh attempt budget."""
        return self._run(self._redeliver(webhook_id, delivery_id))


class AsyncWebhooks(_WebhookOps, AsyncResource):
    async def create(
        self,
        name: str,
        url: str,
        events: builtins.list[str],
        *,
        filters: Filters | None = None,
        headers: Mapping[str, str] | None = None,
        retry_policy: Retry | None = None,
        enabled: bool = True,
        description: str | None = None,
        tenant_id: str | None = None,
    ) -> WebhookCreated:
        body = _create_body(
            name=name,
            url=url,
            events=events,
            filters=filters,
            headers=headers,
            retry_policy=retry_policy,
            enabled=enabled,
            description=description,
            tenant_id=tenant_id,
        )
        return await self._run(self._create(body))

    def list(
        self, *, event: str | None = None, enabled: bool | None = None, limit: int = 100, offset: int = 0
    ) -> AsyncPaginator[Webhook, AsyncWebhookPage]:
        return self._paginator(AsyncWebhookPage, self._list(limit, event, enabled), offset)

    async def get(self, webhook_id: str) -> Webhook:
        return await self._run(self._get(webhook_id))

    async def update(self, webhook_id: str, **fields: Any) -> Webhook:
        return await self._run(self._update(webhook_id, _update_body(fields)))

    async def delete(self, webhook_id: str) -> None:
        await self._run(self._delete(webhook_id))

    async def rotate_secret(self, webhook_id: str) -> SecretRotated:
        return await self._run(self._rotate_secret(webhook_id))

    async def test(self, webhook_id: str) -> Delivery:
        return await self._run(self._test(webhook_id))

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | None = None,
        event: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[Delivery, AsyncDeliveryPage]:
        return self._paginator(AsyncDeliveryPage, self._deliveries(webhook_id, limit, status, event), offset)

    async def delivery(self, webhook_id: str, delivery_id: str) -> DeliveryDetail:
        return await self._run(self._delivery(webhook_id, delivery_id))

    async def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        return await self._run(self._redeliver(webhook_id, delivery_id))
