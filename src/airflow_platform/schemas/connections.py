"""Airflow connections on the wire. Passwords go in, never out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from airflow_platform.schemas.common import RequestModel, WireModel

CONN_ID = r"^[A-Za-z0-9_.\-]{1,250}$"
CONN_TYPE = r"^[A-Za-z0-9_\-]{1,100}$"
MASK = "***"


class ConnectionFields(RequestModel):
    connection_type: str = Field(pattern=CONN_TYPE, description="e.g. postgres, duckdb, http.")
    description: str | None = Field(default=None, max_length=5000)
    host: str | None = Field(default=None, max_length=500)
    port: int | None = Field(default=None, ge=1, le=65535)
    schema_: str | None = Field(default=None, alias="schema", max_length=500)
    login: str | None = Field(default=None, max_length=500)
    password: str | None = Field(default=None, max_length=5000, description="Write-only.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Provider-specific settings.")

    @field_validator("extra")
    @classmethod
    def _extra_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(str(value)) > 20_000:
            raise ValueError("extra is larger than 20,000 characters")
        return value


class ConnectionCreate(ConnectionFields):
    connection_id: str = Field(pattern=CONN_ID, description="Letters, digits, '_', '.', '-'.")
    tenant_id: str | None = Field(
        default=None, description="Owner tenant (platform admins only; default: the caller's)."
    )


class ConnectionUpdate(RequestModel):
    """PATCH: fields left out stay as they are. ``extra`` merges key by key (``null`` removes a key;
    a ``"***"`` value, as reads show secrets, keeps the stored one); ``password: null`` clears it."""

    connection_type: str | None = Field(default=None, pattern=CONN_TYPE)
    description: str | None = Field(default=None, max_length=5000)
    host: str | None = Field(default=None, max_length=500)
    port: int | None = Field(default=None, ge=1, le=65535)
    schema_: str | None = Field(default=None, alias="schema", max_length=500)
    login: str | None = Field(default=None, max_length=500)
    password: str | None = Field(default=None, max_length=5000)
    extra: dict[str, Any] | None = None


class Connection(WireModel):
    connection_id: str
    connection_type: str | None
    description: str | None
    host: str | None
    port: int | None
    schema_: str | None = Field(alias="schema")
    login: str | None
    password: Literal["***"] | None = Field(description="'***' when a password is set; never the password.")
    extra: dict[str, Any] = Field(description="Secret-looking keys are masked as '***'.")
    tenant_id: str | None


class ConnectionList(WireModel):
    connections: list[Connection]
    total_entries: int


class ConnectionTestResult(WireModel):
    status: Literal["success", "failed"]
    message: str
    latency_ms: int


class ConnectionExport(WireModel):
    """One connection as exported: what an import needs to recreate it."""

    connection_id: str
    connection_type: str | None
    description: str | None = None
    host: str | None = None
    port: int | None = None
    schema_: str | None = Field(default=None, alias="schema")
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class ImportResult(WireModel):
    dry_run: bool
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[str]
