"""``/api/v1/platform/webhooks``: subscriptions to DAG and task events, signed deliveries, their log."""

from __future__ import annotations

from airflow_platform import config
from airflow_platform.api.authn import tenant_service
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.webhooks import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryQuery,
    SecretRotated,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookQuery,
    WebhookUpdate,
)
from airflow_platform.services.webhooks import WebhookService

blueprint = PlatformBlueprint("webhooks", __name__)
RESOURCE = "Webhooks"
BASE = f"{API_PREFIX}/webhooks"
ONE = f"{BASE}/<webhook_id>"
TAGS = ["webhooks"]


def _service() -> WebhookService:
    return WebhookService(
        tenant_exists=tenant_service().exists, grace_seconds=config.get_int("webhook_secret_grace_seconds")
    )


@blueprint.operation(BASE, "POST", summary="Create a webhook", body=WebhookCreate, response=WebhookCreated,
                     status=201, resource=RESOURCE, tags=TAGS)  # fmt: skip
def create_webhook(principal: Principal, body: WebhookCreate) -> WebhookCreated:
    """The answer carries the signing secret (``whsec_…``): it is shown only here and on rotation.
    The URL must resolve to public addresses unless ``[platform] webhook_allowed_hosts`` lists it."""
    return _service().create(principal, body)


@blueprint.operation(BASE, "GET", summary="List webhooks", query=WebhookQuery, response=WebhookList,
                     resource=RESOURCE, tags=TAGS)  # fmt: skip
def list_webhooks(principal: Principal, query: WebhookQuery) -> WebhookList:
    items, total = _service().list(principal, query.limit, query.offset, query.event, query.enabled)
    return WebhookList(webhooks=items, total=total, limit=query.limit, offset=query.offset)


@blueprint.operation(ONE, "GET", summary="Get a webhook", response=Webhook, resource=RESOURCE, tags=TAGS)
def get_webhook(principal: Principal, webhook_id: str) -> Webhook:
    return _service().get(principal, webhook_id)


@blueprint.operation(ONE, "PATCH", summary="Update a webhook", body=WebhookUpdate, response=Webhook,
                     resource=RESOURCE, tags=TAGS)  # fmt: skip
def update_webhook(principal: Principal, webhook_id: str, body: WebhookUpdate) -> Webhook:
    """Fields left out stay as they are; ``headers`` replaces the whole map."""
    return _service().update(principal, webhook_id, body)


@blueprint.operation(ONE, "DELETE", summary="Delete a webhook", status=204, resource=RESOURCE, tags=TAGS)
def delete_webhook(principal: Principal, webhook_id: str) -> None:
    """Its deliveries go too."""
    _service().delete(principal, webhook_id)


@blueprint.operation(f"{ONE}/rotate-secret", "POST", summary="Rotate a webhook's secret",
                     response=SecretRotated, resource=RESOURCE, tags=TAGS)  # fmt: skip
def rotate_secret(principal: Principal, webhook_id: str) -> SecretRotated:
    """The previous secret keeps signing (a second ``v1,`` signature) until
    ``previous_secret_expires_at`` (``[platform] webhook_secret_grace_seconds``)."""
    return _service().rotate_secret(principal, webhook_id)


@blueprint.operation(f"{ONE}/test", "POST", summary="Send a test event", response=Delivery,
                     resource=RESOURCE, tags=TAGS)  # fmt: skip
def test_webhook(principal: Principal, webhook_id: str) -> Delivery:
    """Sends ``webhook.test`` now, signed like every delivery, and answers its delivery record."""
    return _service().test(principal, webhook_id)


@blueprint.operation(f"{ONE}/deliveries", "GET", summary="List a webhook's deliveries", query=DeliveryQuery,
                     response=DeliveryList, resource=RESOURCE, tags=TAGS)  # fmt: skip
def list_deliveries(principal: Principal, webhook_id: str, query: DeliveryQuery) -> DeliveryList:
    """Newest first."""
    items, total = _service().deliveries(
        principal, webhook_id, query.status, query.event, query.limit, query.offset
    )
    return DeliveryList(deliveries=items, total=total, limit=query.limit, offset=query.offset)


@blueprint.operation(f"{ONE}/deliveries/<delivery_id>", "GET", summary="Get a delivery",
                     response=DeliveryDetail, resource=RESOURCE, tags=TAGS)  # fmt: skip
def get_delivery(principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryDetail:
    """With its payload and one line per attempt."""
    return _service().delivery(principal, webhook_id, delivery_id)


@blueprint.operation(f"{ONE}/deliveries/<delivery_id>/redeliver", "POST", summary="Redeliver",
                     response=Delivery, status=202, resource=RESOURCE, tags=TAGS)  # fmt: skip
def redeliver(principal: Principal, webhook_id: str, delivery_id: str) -> Delivery:
    """Pending again with a fresh attempt budget, sent under the SAME ``webhook-id`` (receivers
    deduplicate on it)."""
    return _service().redeliver(principal, webhook_id, delivery_id)
