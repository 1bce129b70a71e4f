"""API keys and OAuth2 clients on the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from airflow_platform.schemas.common import RequestModel, WireModel

TENANT_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="What the key is for, for people.")
    tenant_id: str | None = Field(
        default=None,
        pattern=TENANT_ID_PATTERN,
        description="Tenant the key acts in. Default: the caller's tenant. Platform admins may leave it "
        "empty for a platform-wide key.",
    )
    scopes: list[str] | None = Field(
        default=None, max_length=50, description="'*' (default) or '<area>:read|write' entries."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days until the key stops working. Default: never."
    )
    user: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Airflow user the key acts as (platform admins only). Default: the caller.",
    )


class ApiKey(WireModel):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the secret, to tell keys apart.")
    user: str
    tenant_id: str | None
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str = Field(description="active, expired or revoked")


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. Shown once: it cannot be read again.")


class ApiKeyList(WireModel):
    api_keys: list[ApiKey]
    total_entries: int
