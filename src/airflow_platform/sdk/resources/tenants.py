"""``client.tenants``: the platform's tenants (``/api/v1/platform/tenants``)."""

from __future__ import annotations

import builtins
from typing import Any

from airflow_platform.schemas.tenants import Tenant, TenantCreate, TenantList, TenantUpdate
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op, drop_none
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated
from airflow_platform.sdk.server import PLATFORM_PREFIX

BASE = f"{PLATFORM_PREFIX}/tenants"


class TenantPage(SyncPage[Tenant]):
    @property
    def tenants(self) -> list[Tenant]:
        return self.items


class AsyncTenantPage(AsyncPage[Tenant]):
    @property
    def tenants(self) -> list[Tenant]:
        return self.items


def _path(tenant_id: str) -> str:
    return f"{BASE}/{seg(tenant_id)}"


class _TenantOps(Ops):
    def _create(self, body: TenantCreate) -> Op[Tenant]:
        data = yield Call("POST", BASE, json=body.model_dump(mode="json", exclude_none=True))
        return Tenant.model_validate(data)

    def _get(self, tenant_id: str) -> Op[Tenant]:
        return Tenant.model_validate((yield Call("GET", _path(tenant_id))))

    def _list(self, limit: int) -> PageOp[Tenant]:
        def op(offset: int) -> Op[PageData[Tenant]]:
            page = TenantList.model_validate(
                (yield Call("GET", BASE, params={"limit": limit, "offset": offset}))
            )
            return PageData(page.tenants, page.total_entries, limit, offset)

        return op

    def _update(self, tenant_id: str, body: TenantUpdate) -> Op[Tenant]:
        data = yield Call("PATCH", _path(tenant_id), json=body.model_dump(mode="json", exclude_unset=True))
        return Tenant.model_validate(data)

    def _delete(self, tenant_id: str, force: bool) -> Op[None]:
        yield Call(
            "DELETE", _path(tenant_id), params=drop_none({"force": "true" if force else None}), expect="none"
        )


def _create_body(tenant_id: str, display_name: str, **fields: Any) -> TenantCreate:
    return validated(
        TenantCreate,
        tenant_id=tenant_id,
        display_name=display_name,
        **{k: v for k, v in fields.items() if v is not None},
    )


def _update_body(**fields: Any) -> TenantUpdate:
    return validated(TenantUpdate, **{k: v for k, v in fields.items() if v is not None})


class Tenants(_TenantOps, SyncResource):
    def create(
        self,
        tenant_id: str,
        display_name: str,
        *,
        namespace: str | None = None,
        resource_limits: dict[str, str] | None = None,
        features: dict[str, bool] | None = None,
        admin_users: builtins.list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Tenant:
        """Platform admins only; ``admin_users`` (e-mails) become the tenant's admins."""
        body = _create_body(
            tenant_id,
            display_name,
            namespace=namespace,
            resource_limits=resource_limits,
            features=features,
            admin_users=admin_users,
            metadata=metadata,
        )
        return self._run(self._create(body))

    def get(self, tenant_id: str) -> Tenant:
        return self._run(self._get(tenant_id))

    def list(self, *, limit: int = 100, offset: int = 0) -> TenantPage:
        return self._page(TenantPage, self._list(limit), offset)

    def update(
        self,
        tenant_id: str,
        *,
        display_name: str | None = None,
        namespace: str | None = None,
        resource_limits: dict[str, str | None] | None = None,
        features: dict[str, bool | None] | None = None,
        admin_users: builtins.list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Tenant:
        """``resource_limits``, ``features`` and ``metadata`` merge key by key; ``None`` removes a key."""
        body = _update_body(
            display_name=display_name,
            namespace=namespace,
            resource_limits=resource_limits,
            features=features,
            admin_users=admin_users,
            metadata=metadata,
        )
        return self._run(self._update(tenant_id, body))

    def delete(self, tenant_id: str, *, force: bool = False) -> None:
        """Refused with ``ConflictError`` while the tenant owns objects, unless ``force``."""
        self._run(self._delete(tenant_id, force))


class AsyncTenants(_TenantOps, AsyncResource):
    async def create(
        self,
        tenant_id: str,
        display_name: str,
        *,
        namespace: str | None = None,
        resource_limits: dict[str, str] | None = None,
        features: dict[str, bool] | None = None,
        admin_users: builtins.list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Tenant:
        body = _create_body(
            tenant_id,
            display_name,
            namespace=namespace,
            resource_limits=resource_limits,
            features=features,
            admin_users=admin_users,
            metadata=metadata,
        )
        return await self._run(self._create(body))

    async def get(self, tenant_id: str) -> Tenant:
        return await self._run(self._get(tenant_id))

    def list(self, *, limit: int = 100, offset: int = 0) -> AsyncPaginator[Tenant, AsyncTenantPage]:
        return self._paginator(AsyncTenantPage, self._list(limit), offset)

    async def update(
        self,
        tenant_id: str,
        *,
        display_name: str | None = None,
        namespace: str | None = None,
        resource_limits: dict[str, str | None] | None = None,
        features: dict[str, bool | None] | None = None,
        admin_users: builtins.list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Tenant:
        body = _update_body(
            display_name=display_name,
            namespace=namespace,
            resource_limits=resource_limits,
            features=features,
            admin_users=admin_users,
            metadata=metadata,
        )
        return await self._run(self._update(tenant_id, body))

    async def delete(self, tenant_id: str, *, force: bool = False) -> None:
        await self._run(self._delete(tenant_id, force))
