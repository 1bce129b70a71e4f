"""What the UI pages ask the server about the signed-in user."""

from __future__ import annotations

from pydantic import Field

from airflow_platform.schemas.common import WireModel


class Allowed(WireModel):
    read: bool
    create: bool
    edit: bool
    delete: bool


class UiContext(WireModel):
    user: str
    tenant_id: str | None = Field(description="The tenant the user acts in; None: a platform admin, all.")
    is_platform_admin: bool
    tenants: list[str] = Field(description="The tenants the user belongs to (for X-Tenant-ID).")
    can: dict[str, Allowed] = Field(
        description="Per resource, what the user may do (Airflow's auth manager)."
    )
    features: dict[str, bool] = Field(description="Optional server routes present, e.g. saved_queries.")
    links: dict[str, str] = Field(description="URL templates of Airflow's own pages and API ({dag_id}).")
    airflow_version: str
