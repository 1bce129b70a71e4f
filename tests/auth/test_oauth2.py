"""OAuth2 pieces without a server: validation, scope narrowing, the client adapter, PKCE, storage
(single use, rotation, expiry), token resolution, the client service's walls, and the token
endpoint in-process through the Flask test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from airflow_platform.auth import credentials
from airflow_platform.auth.oauth2 import (
    GrantStore,
    Lifetimes,
    PlatformClient,
    Subject,
    resolve_access_token,
)
from airflow_platform.auth.principal import Principal
from airflow_platform.auth.scopes import grantable, scope_allows
from airflow_platform.exceptions import PermissionDeniedError, ResourceNotFoundError, ValidationError
from airflow_platform.schemas.oauth import OAuthClientCreate, check_redirect_uri
from airflow_platform.services.oauth_clients import ClientRecord, OAuthClientService
from tests.harness import ADMIN_USER

REDIRECT = "https://app.example.com/callback"
LIFETIMES = Lifetimes(access=3600, refresh=86400, code=300)


def record(**changes: Any) -> ClientRecord:
    secret = credentials.mint(credentials.OAUTH_CLIENT_SECRET_PREFIX)
    base = ClientRecord(
        client_id=f"cli_{uuid.uuid4().hex[:20]}",
        name="test app",
        secret_hash=credentials.digest(secret),
        username=ADMIN_USER,
        tenant_id=None,
        redirect_uris=(REDIRECT,),
        grant_types=frozenset({"client_credentials", "authorization_code", "refresh_token"}),
        scopes=frozenset({"tenants:write", "api_keys:read"}),
    )
    return replace(base, **changes)


# --- validation and scopes (no DB) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    ["https://app.example.com/cb", "http://localhost:8000/cb", "http://127.0.0.1/cb", "http://[::1]:9/cb"],
)
def test_redirect_uris_accepted(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://app.example.com/cb", "plain http"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("/relative/cb", "absolute"),
        ("ftp://app.example.com/cb", "absolute"),
        ("https://user:pw@app.example.com/cb", "credentials"),
        ("https://" + "a" * 2000 + ".com/", "longer"),
    ],
)
def test_redirect_uris_refused(uri: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_redirect_uri(uri)


def test_client_body_rules() -> None:
    assert OAuthClientCreate(name="x").grant_types == ["client_credentials"]
    with pytest.raises(PydanticValidationError, match="needs at least one redirect URI"):
        OAuthClientCreate(name="x", grant_types=["authorization_code"])
    with pytest.raises(PydanticValidationError, match="only issued with authorization_code"):
        OAuthClientCreate(name="x", grant_types=["client_credentials", "refresh_token"])
    with pytest.raises(PydanticValidationError):
        OAuthClientCreate(name="x", grant_types=["password"])  # type: ignore[list-item]
    body = OAuthClientCreate(
        name="x", grant_types=["authorization_code", "authorization_code"], redirect_uris=[REDIRECT, REDIRECT]
    )
    assert body.grant_types == ["authorization_code"] and body.redirect_uris == [REDIRECT]


def test_scope_narrowing() -> None:
    held = frozenset({"tenants:write", "api_keys:read"})
    assert scope_allows(held, "tenants:read") and scope_allows(held, "tenants:write")
    assert not scope_allows(held, "api_keys:write") and not scope_allows(held, "*")
    assert grantable(["tenants:read", "webhooks:read"], held) == ["tenants:read"]
    assert grantable(["*"], held) == ["api_keys:read", "tenants:write"]
    assert grantable(["webhooks:read"], held) == []
    assert grantable(["tenants:read", "*"], frozenset({"*"})) == ["*", "tenants:read"]


def test_client_adapter() -> None:
    secret = credentials.mint(credentials.OAUTH_CLIENT_SECRET_PREFIX)
    client = PlatformClient(record(secret_hash=credentials.digest(secret)))
    assert client.check_client_secret(secret)
    assert not client.check_client_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not client.check_client_secret("afs_short")
    assert client.check_redirect_uri(REDIRECT)
    assert not client.check_redirect_uri(REDIRECT + "/")  # exact match only
    assert not client.check_redirect_uri(REDIRECT.replace("https", "http"))
    assert client.get_default_redirect_uri() is None
    assert client.get_allowed_scope(None) == "api_keys:read tenants:write"
    assert client.get_allowed_scope("tenants:read webhooks:read") == "tenants:read"
    assert client.get_allowed_scope("webhooks:read") is None
    assert client.check_response_type("code") and not client.check_response_type("token")
    cc_only = PlatformClient(record(grant_types=frozenset({"client_credentials"})))
    assert not cc_only.check_response_type("code") and not cc_only.check_grant_type("refresh_token")
    assert not client.check_endpoint_auth_method("none", "token")


@pytest.mark.parametrize(
    "token",
    ["", "afo_", "garbage", "afp_" + "A" * 42, "afo_" + "A" * 42, credentials.mint("afr_")],
)
def test_malformed_tokens_resolve_to_none_without_the_db(token: str, monkeypatch) -> None:
    def no_db() -> None:
        raise AssertionError("a malformed token must not reach the database")

    monkeypatch.setattr("airflow_platform.storage.db.reading", no_db)
    assert resolve_access_token(token) is None


# --- storage (the session's migrated DB) ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def stored_client(airflow_home: Path) -> ClientRecord:
    from airflow_platform.storage import db
    from airflow_platform.storage.tables import oauth_clients

    rec = record()
    with db.transaction() as conn:
        conn.execute(
            oauth_clients.insert().values(
                client_id=rec.client_id, secret_hash=rec.secret_hash, name=rec.name, username=rec.username,
                tenant_id=rec.tenant_id, redirect_uris=list(rec.redirect_uris),
                grant_types=sorted(rec.grant_types), scopes=sorted(rec.scopes), created_by=ADMIN_USER,
                created_at=db.utcnow(), revoked_at=None,
            )
        )  # fmt: skip
    return rec


def issue(store: GrantStore, client: ClientRecord, refresh: bool = True) -> dict[str, Any]:
    token: dict[str, Any] = {
        "access_token": credentials.mint(credentials.OAUTH_TOKEN_PREFIX),
        "token_type": "Bearer",
        "expires_in": LIFETIMES.access,
        "scope": "tenants:read",
    }
    if refresh:
        token["refresh_token"] = credentials.mint(credentials.OAUTH_REFRESH_PREFIX)
    store.save_token(token, client_id=client.client_id, subject=Subject("alice", "team-a"))
    return token


def test_access_tokens_resolve_until_they_expire_or_are_revoked(stored_client: ClientRecord) -> None:
    clock = Clock()
    store = GrantStore(LIFETIMES, clock)
    token = issue(store, stored_client)
    grant = resolve_access_token(token["access_token"])
    assert grant is not None
    assert (grant.username, grant.tenant_id, grant.client_id) == ("alice", "team-a", stored_client.client_id)
    assert grant.scopes == frozenset({"tenants:read"})
    later = clock.now + timedelta(seconds=LIFETIMES.access + 1)
    assert resolve_access_token(token["access_token"], now=later) is None
    assert resolve_access_token(token["refresh_token"]) is None  # a refresh token is not an access token

    row = store.find_token(token["refresh_token"])
    assert row is not None and store.claim_token(row.token_hash)
    assert resolve_access_token(token["access_token"]) is None
    assert not store.claim_token(row.token_hash)  # a second claim loses


def test_a_revoked_client_takes_its_tokens_with_it(stored_client: ClientRecord) -> None:
    from airflow_platform.storage import db
    from airflow_platform.storage.tables import oauth_clients

    token = issue(GrantStore(LIFETIMES), stored_client, refresh=False)
    assert resolve_access_token(token["access_token"]) is not None
    with db.transaction() as conn:
        conn.execute(
            oauth_clients.update()
            .where(oauth_clients.c.client_id == stored_client.client_id)
            .values(revoked_at=db.utcnow())
        )
    assert resolve_access_token(token["access_token"]) is None
    assert OAuthClientService.find_active(stored_client.client_id) is None


def test_refresh_tokens_live_longer_than_access_tokens(stored_client: ClientRecord) -> None:
    clock = Clock()
    store = GrantStore(LIFETIMES, clock)
    token = issue(store, stored_client)
    clock.now += timedelta(seconds=LIFETIMES.access + 1)
    assert store.find_refresh(token["refresh_token"]) is not None
    clock.now += timedelta(seconds=LIFETIMES.refresh)
    assert store.find_refresh(token["refresh_token"]) is None
    assert store.find_refresh(token["access_token"]) is None


def test_codes_are_single_use_and_expire(stored_client: ClientRecord) -> None:
    clock = Clock()
    store = GrantStore(LIFETIMES, clock)
    code = credentials.mint(credentials.OAUTH_CODE_PREFIX)
    store.save_code(
        code, client_id=stored_client.client_id, subject=Subject("alice", "team-a"), redirect_uri=REDIRECT,
        scopes=["tenants:read"], challenge="c" * 43, challenge_method="S256",
    )  # fmt: skip
    assert store.find_code(code, "cli_someone_else") is None
    found = store.find_code(code, stored_client.client_id)
    assert found is not None and found.used_at is None and found.get_scope() == "tenants:read"
    assert store.claim_code(found.code_hash)
    assert not store.claim_code(found.code_hash)
    used = store.find_code(code, stored_client.client_id)
    assert used is not None and used.used_at is not None

    token = issue(store, stored_client)  # issued after the code was spent
    assert store.revoke_issued_from(used) == 1
    assert resolve_access_token(token["access_token"]) is None

    clock.now += timedelta(seconds=LIFETIMES.code + 1)
    assert store.find_code(code, stored_client.client_id) is None


# --- the client service ---------------------------------------------------------------------------


class FakeTenants:
    def __init__(self, admins: dict[str, str] | None = None) -> None:
        self.admins = admins or {}

    def exists(self, tenant_id: str) -> bool:
        return tenant_id in ("team-a", "team-b", "default")

    def is_tenant_admin(self, tenant_id: str | None, username: str) -> bool:
        return tenant_id is not None and self.admins.get(username) == tenant_id


def principal(name: str, tenant: str | None, admin: bool = False, scopes: frozenset[str] = frozenset({"*"})):
    return Principal(
        username=name, user=None, tenant_id=tenant, scopes=scopes, via="api_key", is_platform_admin=admin
    )


def test_client_service_walls(airflow_home: Path) -> None:
    service = OAuthClientService(FakeTenants({"alice": "team-a"}), user_exists=lambda name: name == "carol")
    alice = principal("alice", "team-a")
    made = service.create(alice, OAuthClientCreate(name="a's app"))
    assert made.client_secret.startswith("afs_") and made.client_id.startswith("cli_")
    assert (made.user, made.tenant_id, made.scopes, made.status) == ("alice", "team-a", ["*"], "active")
    assert credentials.well_formed(made.client_secret, credentials.OAUTH_CLIENT_SECRET_PREFIX)

    bob = principal("bob", "team-b")
    with pytest.raises(ResourceNotFoundError):
        service.get(bob, made.client_id)
    with pytest.raises(ResourceNotFoundError):
        service.revoke(bob, made.client_id)
    assert made.client_id not in [c.client_id for c in service.list(bob, 100, 0)[0]]
    assert service.get(alice, made.client_id).status == "active"

    with pytest.raises(PermissionDeniedError):
        service.create(alice, OAuthClientCreate(name="x", tenant_id="team-b"))
    with pytest.raises(PermissionDeniedError):
        service.create(alice, OAuthClientCreate(name="x", user="carol"))
    narrow = principal("alice", "team-a", scopes=frozenset({"tenants:read", "oauth_clients:write"}))
    with pytest.raises(PermissionDeniedError, match="cannot exceed"):
        service.create(narrow, OAuthClientCreate(name="x"))
    assert service.create(narrow, OAuthClientCreate(name="x", scopes=["tenants:read"])).scopes == [
        "tenants:read"
    ]

    root = principal(ADMIN_USER, None, admin=True)
    with pytest.raises(ValidationError, match="No Airflow user"):
        service.create(root, OAuthClientCreate(name="x", user="nobody"))
    for_carol = service.create(root, OAuthClientCreate(name="x", user="carol", tenant_id="team-b"))
    assert (for_carol.user, for_carol.tenant_id) == ("carol", "team-b")
    revoked = service.revoke(alice, made.client_id)
    assert revoked.status == "revoked" and service.find_active(made.client_id) is None


# --- the token endpoint in-process ----------------------------------------------------------------


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_token_endpoint_in_process(client, airflow_home: Path) -> None:
    service = OAuthClientService(FakeTenants(), user_exists=lambda name: True)
    made = service.create(principal(ADMIN_USER, None, admin=True), OAuthClientCreate(name="in-process"))
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "tenants:read"},
        headers=basic(made.client_id, made.client_secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["access_token"].startswith("afo_") and body["token_type"] == "Bearer"
    assert body["scope"] == "tenants:read" and body["expires_in"] == 3600 and "refresh_token" not in body
    assert response.headers["Cache-Control"] == "no-store"
    grant = resolve_access_token(body["access_token"])
    assert grant is not None and grant.username == ADMIN_USER and grant.tenant_id is None

    as_json = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400 and as_json.get_json()["error"] == "invalid_request"
    in_url = client.post(
        f"/oauth/token?client_secret={made.client_secret}",
        data={"grant_type": "client_credentials"},
        headers=basic(made.client_id, made.client_secret),
    )
    assert in_url.status_code == 400 and in_url.get_json()["error"] == "invalid_request"
    odd = client.post(
        "/oauth/token",
        data={"grant_type": 'x"\\', "scope": 'bad"scope'},
        headers=basic(made.client_id, made.client_secret),
    )
    assert odd.status_code == 400 and odd.get_json()["error"] == "unsupported_grant_type"


def test_s256_challenge_is_what_clients_compute() -> None:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = secrets.token_urlsafe(48)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert create_s256_code_challenge(verifier) == expected
