"""``/api/v1/platform/tenants``."""

from __future__ import annotations

from pydantic import Field

from airflow_platform.api.authn import tenant_service
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.common import PageQuery, RequestModel
from airflow_platform.schemas.tenants import Tenant, TenantCreate, TenantList, TenantUpdate

blueprint = PlatformBlueprint("tenants", __name__)
RESOURCE = "Tenants"
BASE = f"{API_PREFIX}/tenants"


class DeleteQuery(RequestModel):
    force: bool = Field(False, description="Also delete the objects the tenant owns.")


@blueprint.operation(BASE, "POST", summary="Create a tenant", body=TenantCreate, response=Tenant,
                     status=201, resource=RESOURCE, tags=["tenants"],
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def create_tenant(principal: Principal, body: TenantCreate) -> Tenant:
    """Platform admins only. ``admin_users`` become the tenant's admins."""
    return tenant_service().create(principal, body)


@blueprint.operation(BASE, "GET", summary="List tenants", query=PageQuery, response=TenantList,
                     resource=RESOURCE, tags=["tenants"])  # fmt: skip
def list_tenants(principal: Principal, query: PageQuery) -> TenantList:
    """Platform admins see every tenant; everyone else the tenant they act in."""
    items, total = tenant_service().list(principal, query.limit, query.offset)
    return TenantList(tenants=items, total_entries=total)


@blueprint.operation(f"{BASE}/<tenant_id>", "GET", summary="Get a tenant", response=Tenant,
                     resource=RESOURCE, tags=["tenants"])  # fmt: skip
def get_tenant(principal: Principal, tenant_id: str) -> Tenant:
    return tenant_service().get(principal, tenant_id)


@blueprint.operation(f"{BASE}/<tenant_id>", "PATCH", summary="Update a tenant", body=TenantUpdate,
                     response=Tenant, resource=RESOURCE, tags=["tenants"])  # fmt: skip
def update_tenant(principal: Principal, tenant_id: str, body: TenantUpdate) -> Tenant:
    """``resource_limits``, ``features`` and ``metadata`` merge key by key; ``null`` removes a key."""
    return tenant_service().update(principal, tenant_id, body)


@blueprint.operation(f"{BASE}/<tenant_id>", "DELETE", summary="Delete a tenant", query=DeleteQuery,
                     status=204, resource=RESOURCE, tags=["tenants"],
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def delete_tenant(principal: Principal, tenant_id: str, query: DeleteQuery) -> None:
    """Refused with CONFLICT while the tenant owns objects, unless ``?force=true``."""
    tenant_service().delete(principal, tenant_id, query.force)
