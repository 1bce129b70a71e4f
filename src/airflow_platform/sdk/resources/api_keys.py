"""``client.api_keys``: platform API keys (``/api/v1/platform/api-keys``); the secret is shown once."""

from __future__ import annotations

from airflow_platform.schemas.auth import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated
from airflow_platform.sdk.server import PLATFORM_PREFIX

BASE = f"{PLATFORM_PREFIX}/api-keys"


class ApiKeyPage(SyncPage[ApiKey]):
    @property
    def api_keys(self) -> list[ApiKey]:
        return self.items


class AsyncApiKeyPage(AsyncPage[ApiKey]):
    @property
    def api_keys(self) -> list[ApiKey]:
        return self.items


def _path(key_id: str) -> str:
    return f"{BASE}/{seg(key_id)}"


def _body(
    name: str, tenant_id: str | None, scopes: list[str] | None, expires_in_days: int | None, user: str | None
) -> ApiKeyCreate:
    fields = {"tenant_id": tenant_id, "scopes": scopes, "expires_in_days": expires_in_days, "user": user}
    return validated(ApiKeyCreate, name=name, **{k: v for k, v in fields.items() if v is not None})


class _ApiKeyOps(Ops):
    def _create(self, body: ApiKeyCreate) -> Op[ApiKeyCreated]:
        data = yield Call("POST", BASE, json=body.model_dump(mode="json", exclude_none=True))
        return ApiKeyCreated.model_validate(data)

    def _list(self, limit: int) -> PageOp[ApiKey]:
        def op(offset: int) -> Op[PageData[ApiKey]]:
            page = ApiKeyList.model_validate(
                (yield Call("GET", BASE, params={"limit": limit, "offset": offset}))
            )
            return PageData(page.api_keys, page.total_entries, limit, offset)

        return op

    def _get(self, key_id: str) -> Op[ApiKey]:
        return ApiKey.model_validate((yield Call("GET", _path(key_id))))

    def _revoke(self, key_id: str) -> Op[ApiKey]:
        return ApiKey.model_validate((yield Call("DELETE", _path(key_id))))


class ApiKeys(_ApiKeyOps, SyncResource):
    def create(
        self,
        name: str,
        *,
        tenant_id: str | None = None,
        scopes: list[str] | None = None,
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> ApiKeyCreated:
        """The answer's ``key`` is the secret, shown this once."""
        return self._run(self._create(_body(name, tenant_id, scopes, expires_in_days, user)))

    def list(self, *, limit: int = 100, offset: int = 0) -> ApiKeyPage:
        return self._page(ApiKeyPage, self._list(limit), offset)

    def get(self, key_id: str) -> ApiKey:
        return self._run(self._get(key_id))

    def revoke(self, key_id: str) -> ApiKey:
        """The key stops working at once and stays listed as revoked."""
        return self._run(self._revoke(key_id))


class AsyncApiKeys(_ApiKeyOps, AsyncResource):
    async def create(
        self,
        name: str,
        *,
        tenant_id: str | None = None,
        scopes: list[str] | None = None,
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> ApiKeyCreated:
        return await self._run(self._create(_body(name, tenant_id, scopes, expires_in_days, user)))

    def list(self, *, limit: int = 100, offset: int = 0) -> AsyncPaginator[ApiKey, AsyncApiKeyPage]:
        return self._paginator(AsyncApiKeyPage, self._list(limit), offset)

    async def get(self, key_id: str) -> ApiKey:
        return await self._run(self._get(key_id))

    async def revoke(self, key_id: str) -> ApiKey:
        return await self._run(self._revoke(key_id))
