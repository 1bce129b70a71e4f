"""``/api/v1/platform/api-keys``: the secret is shown once, at creation."""

from __future__ import annotations

from airflow_platform import compat
from airflow_platform.api.authn import tenant_service
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.auth import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList
from airflow_platform.schemas.common import PageQuery
from airflow_platform.services.api_keys import ApiKeyService

blueprint = PlatformBlueprint("api_keys", __name__)
RESOURCE = "API Keys"
BASE = f"{API_PREFIX}/api-keys"


def _service() -> ApiKeyService:
    return ApiKeyService(tenant_service())


@blueprint.operation(BASE, "POST", summary="Create an API key", body=ApiKeyCreate, response=ApiKeyCreated,
                     status=201, resource=RESOURCE, tags=["api-keys"])  # fmt: skip
def create_api_key(principal: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
    """Answers the secret in ``key`` this once; only its SHA-256 is stored."""
    return _service().create(principal, body, user_exists=compat.user_exists)


@blueprint.operation(BASE, "GET", summary="List API keys", query=PageQuery, response=ApiKeyList,
                     resource=RESOURCE, tags=["api-keys"])  # fmt: skip
def list_api_keys(principal: Principal, query: PageQuery) -> ApiKeyList:
    """Your own keys; a tenant's admins see the tenant's keys, platform admins all."""
    items, total = _service().list(principal, query.limit, query.offset)
    return ApiKeyList(api_keys=items, total_entries=total)


@blueprint.operation(f"{BASE}/<key_id>", "GET", summary="Get an API key", response=ApiKey,
                     resource=RESOURCE, tags=["api-keys"])  # fmt: skip
def get_api_key(principal: Principal, key_id: str) -> ApiKey:
    return _service().get(principal, key_id)


@blueprint.operation(f"{BASE}/<key_id>", "DELETE", summary="Revoke an API key", response=ApiKey,
                     resource=RESOURCE, tags=["api-keys"])  # fmt: skip
def revoke_api_key(principal: Principal, key_id: str) -> ApiKey:
    """The key stops working at once; it stays listed as revoked."""
    return _service().revoke(principal, key_id)
