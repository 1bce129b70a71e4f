"""``/api/v1/platform/oauth-clients``: the client secret is shown once, at registration."""

from __future__ import annotations

from airflow_platform import compat
from airflow_platform.api.authn import tenant_service
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.common import PageQuery
from airflow_platform.schemas.oauth import OAuthClient, OAuthClientCreate, OAuthClientCreated, OAuthClientList
from airflow_platform.services.oauth_clients import OAuthClientService

blueprint = PlatformBlueprint("oauth_clients", __name__)
RESOURCE = "OAuth Clients"
BASE = f"{API_PREFIX}/oauth-clients"


def _service() -> OAuthClientService:
    return OAuthClientService(tenant_service(), user_exists=compat.user_exists)


@blueprint.operation(BASE, "POST", summary="Register an OAuth2 client", body=OAuthClientCreate,
                     response=OAuthClientCreated, status=201, resource=RESOURCE,
                     tags=["oauth-clients"])  # fmt: skip
def create_oauth_client(principal: Principal, body: OAuthClientCreate) -> OAuthClientCreated:
    """Answers ``client_secret`` this once; only its SHA-256 is stored."""
    return _service().create(principal, body)


@blueprint.operation(BASE, "GET", summary="List OAuth2 clients", query=PageQuery, response=OAuthClientList,
                     resource=RESOURCE, tags=["oauth-clients"])  # fmt: skip
def list_oauth_clients(principal: Principal, query: PageQuery) -> OAuthClientList:
    """Clients you registered or that act as you; a tenant's admins see the tenant's, platform admins all."""
    items, total = _service().list(principal, query.limit, query.offset)
    return OAuthClientList(oauth_clients=items, total_entries=total)


@blueprint.operation(f"{BASE}/<client_id>", "GET", summary="Get an OAuth2 client", response=OAuthClient,
                     resource=RESOURCE, tags=["oauth-clients"])  # fmt: skip
def get_oauth_client(principal: Principal, client_id: str) -> OAuthClient:
    return _service().get(principal, client_id)


@blueprint.operation(f"{BASE}/<client_id>", "DELETE", summary="Revoke an OAuth2 client",
                     response=OAuthClient, resource=RESOURCE, tags=["oauth-clients"])  # fmt: skip
def revoke_oauth_client(principal: Principal, client_id: str) -> OAuthClient:
    """The client and every token it was issued stop working at once; it stays listed as revoked."""
    return _service().revoke(principal, client_id)
