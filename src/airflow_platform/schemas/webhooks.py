"""Webhooks on the wire: configuration, deliveries, and the event payload.

Header values and secrets go in and never come out (a secret is shown once, at create and rotate).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from airflow_platform.schemas.common import PageQuery, RequestModel, WireModel

EVENT_TYPES: tuple[str, ...] = (
    "dag.success",
    "dag.failure",
    "dag.running",
    "task.success",
    "task.failure",
    "task.retry",
)
TEST_EVENT = "webhook.test"
EventType = Literal["dag.success", "dag.failure", "dag.running", "task.success", "task.failure", "task.retry"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
MASK = "***"

#: RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
#: Headers the platform sets itself (or that HTTP owns); a webhook may not override them.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection"})


class WebhookFilters(RequestModel):
    dag_ids: list[str] = Field(
        default_factory=list, max_length=500, description="Only these DAGs (empty: all)."
    )
    tags: list[str] = Field(
        default_factory=list, max_length=100, description="Only DAGs with any of these tags (empty: all)."
    )


class RetryPolicy(RequestModel):
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts in all, the first included.")
    backoff_seconds: list[int] = Field(
        default_factory=lambda: [10, 30, 60],
        min_length=1,
        max_length=10,
        description="Wait before retry n: backoff_seconds[min(n-1, len-1)].",
    )

    @field_validator("backoff_seconds")
    @classmethod
    def _in_range(cls, value: list[int]) -> list[int]:
        if any(v < 0 or v > 86400 for v in value):
            raise ValueError("each backoff must be between 0 and 86400 seconds")
        return value


def _check_events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return value
    if not value:
        raise ValueError("events must name at least one event")
    unknown = [e for e in value if e not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    if len(set(value)) != len(value):
        raise ValueError("events must not repeat")
    return value


def _check_headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > 20:
        raise ValueError("at most 20 custom headers")
    for name, header_value in value.items():
        if not _TOKEN.match(name):
            raise ValueError(f"header name {name!r} is not an HTTP token")
        lower = name.lower()
        if lower in RESERVED_HEADERS or lower.startswith("webhook-"):
            raise ValueError(f"header {name!r} is set by the platform and cannot be overridden")
        if len(header_value) > 4096 or any(c in header_value for c in "\r\n\x00"):
            raise ValueError(f"header {name!r}: the value is longer than 4096 characters or has line breaks")
    return value


class WebhookCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        min_length=1, max_length=2048, description="http(s) URL; must resolve to public addresses."
    )
    events: list[str] = Field(description=f"Any of {', '.join(EVENT_TYPES)}.")
    filters: WebhookFilters = Field(default_factory=WebhookFilters)
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every delivery (write-only)."
    )
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    enabled: bool = True
    description: str | None = Field(default=None, max_length=5000)
    tenant_id: str | None = Field(
        default=None, description="Owner tenant (platform admins only; default: the caller's)."
    )

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _check_events(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_headers(value)


class WebhookUpdate(RequestModel):
    """PATCH: fields left out stay as they are; ``headers`` replaces the whole map."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = None
    filters: WebhookFilters | None = None
    headers: dict[str, str] | None = None
    retry_policy: RetryPolicy | None = None
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _check_events(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_headers(value)


class Webhook(WireModel):
    webhook_id: str
    name: str
    description: str | None
    url: str
    events: list[str]
    filters: dict[str, list[str]]
    headers: dict[str, str] = Field(description="Header names; every value shows as '***'.")
    retry_policy: dict[str, Any]
    enabled: bool
    tenant_id: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret (whsec_…): shown only now.")


class WebhookList(WireModel):
    webhooks: list[Webhook]
    total: int
    limit: int
    offset: int


class WebhookQuery(PageQuery):
    event: str | None = Field(default=None, description="Only webhooks subscribed to this event.")
    enabled: bool | None = None


class SecretRotated(WireModel):
    webhook_id: str
    secret: str = Field(description="The new signing secret: shown only now.")
    previous_secret_expires_at: datetime = Field(description="Until then the old secret signs too.")


class Delivery(WireModel):
    delivery_id: str = Field(description="Sent as the webhook-id header of every attempt.")
    webhook_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    response_status: int | None
    error: str | None
    duration_ms: float | None


class DeliveryAttempt(WireModel):
    attempt: int
    at: datetime
    response_status: int | None
    error: str | None
    duration_ms: float | None


class DeliveryDetail(Delivery):
    payload: dict[str, Any]
    attempt_log: list[DeliveryAttempt]


class DeliveryList(WireModel):
    deliveries: list[Delivery]
    total: int
    limit: int
    offset: int


class DeliveryQuery(PageQuery):
    status: DeliveryStatus | None = None
    event: str | None = None


class EventData(WireModel):
    """``data`` of a payload: the DAG run's fields; task events add the task's own."""

    dag_id: str
    dag_run_id: str
    execution_date: datetime | None = Field(description="The logical date (Airflow 3 runs may have none).")
    start_date: datetime | None
    end_date: datetime | None
    duration_seconds: float | None
    state: str | None
    conf: dict[str, Any]
    external_trigger: bool
    run_type: str | None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


class EventPayload(WireModel):
    """The body of every delivery."""

    event: str
    timestamp: datetime
    data: dict[str, Any]
