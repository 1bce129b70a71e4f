"""Tenants on the wire: the reference's body, validated the way Kubernetes would."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from airflow_platform.schemas.common import RequestModel, WireModel

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
QUANTITY = re.compile(r"^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
KNOWN_LIMITS = ("cpu", "memory", "storage", "gpu")


def _check_limits(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    for name, quantity in value.items():
        if name not in KNOWN_LIMITS:
            raise ValueError(f"unknown resource limit {name!r}; use one of {', '.join(KNOWN_LIMITS)}")
        if not isinstance(quantity, str) or not QUANTITY.match(quantity):
            raise ValueError(
                f"{name}: {quantity!r} is not a Kubernetes quantity (e.g. '4000m', '2', '16Gi', '100G')"
            )
    return value


def _check_emails(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    bad = [v for v in value if not EMAIL.match(v)]
    if bad:
        raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
    return sorted(set(value), key=value.index)


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)) or len(key) > 63:
            raise ValueError(f"metadata {key!r}: values are strings, numbers or booleans; keys ≤ 63 chars")
    return value


class TenantCreate(RequestModel):
    tenant_id: str = Field(pattern=DNS_LABEL, description="DNS-1123 label: lowercase, digits, '-', ≤ 63.")
    display_name: str = Field(min_length=1, max_length=200)
    namespace: str | None = Field(
        default=None, pattern=DNS_LABEL, description="Kubernetes namespace (DNS-1123). Default: tenant_id."
    )
    resource_limits: dict[str, str] = Field(default_factory=dict, description="cpu, memory, storage, gpu.")
    features: dict[str, bool] = Field(default_factory=dict)
    admin_users: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=100)

    _limits = field_validator("resource_limits")(_check_limits)
    _emails = field_validator("admin_users")(_check_emails)
    _meta = field_validator("metadata")(_check_metadata)


class TenantUpdate(RequestModel):
    """PATCH: top-level fields replace; ``resource_limits``, ``features`` and ``metadata`` merge
    key by key (a ``null`` value removes a key)."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    namespace: str | None = Field(default=None, pattern=DNS_LABEL)
    resource_limits: dict[str, str | None] | None = None
    features: dict[str, bool | None] | None = None
    admin_users: list[str] | None = Field(default=None, max_length=100)
    metadata: dict[str, Any] | None = None

    @field_validator("resource_limits")
    @classmethod
    def _limits(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if value is not None:
            _check_limits({k: v for k, v in value.items() if v is not None})
        return value

    _emails = field_validator("admin_users")(_check_emails)

    @field_validator("metadata")
    @classmethod
    def _meta(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_metadata({k: v for k, v in value.items() if v is not None})
        return value


class Tenant(WireModel):
    tenant_id: str
    display_name: str
    namespace: str
    resource_limits: dict[str, str]
    features: dict[str, bool]
    admin_users: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TenantList(WireModel):
    tenants: list[Tenant]
    total_entries: int
