"""Authentication and authorization over HTTP against the real server."""

from __future__ import annotations

import base64

import httpx
import pytest
import sqlalchemy as sa

from tests import harness
from tests.e2e.conftest import MADE_SECRETS, PASSWORD, Actors

pytestmark = pytest.mark.e2e
TENANTS = "/api/v1/platform/tenants"
KEYS = "/api/v1/platform/api-keys"


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    return body


def test_no_credentials_is_401(actors: Actors) -> None:
    with actors.client() as c:
        for path in (TENANTS, KEYS):
            error = error_of(c.get(path), 401, "AUTHENTICATION_FAILED")
            assert "X-API-Key" in error["message"]


@pytest.mark.parametrize(
    "key",
    ["garbage", "afp_" + "A" * 42, "afp_short", ""],
)
def test_malformed_or_unknown_keys_are_401(actors: Actors, key: str) -> None:
    with actors.client(**{"X-API-Key": key} if key else {}) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")


def test_admin_key_sees_every_tenant_and_members_only_theirs(actors: Actors) -> None:
    with actors.client(actors.admin_key) as c:
        names = {t["tenant_id"] for t in c.get(TENANTS).json()["tenants"]}
    assert {"team-a", "team-b", "default"} <= names
    with actors.client(actors.alice_key) as c:
        listed = c.get(TENANTS).json()
        assert [t["tenant_id"] for t in listed["tenants"]] == ["team-a"]
        assert listed["total_entries"] == 1


def test_roles_decide_writes(actors: Actors) -> None:
    body = {"tenant_id": "not-allowed", "display_name": "x"}
    with actors.client(actors.viewer_key) as c:
        assert c.get(TENANTS).status_code == 200
        error = error_of(c.post(TENANTS, json=body), 403, "PERMISSION_DENIED")
        assert "may not create Tenants" in error["message"]
        # Viewers have no API Keys permission at all.
        error_of(c.get(KEYS), 403, "PERMISSION_DENIED")
    with actors.client(actors.alice_key) as c:
        error_of(c.post(TENANTS, json=body), 403, "PERMISSION_DENIED")


def test_scopes_narrow_a_key(actors: Actors) -> None:
    read_only = harness.create_key(harness_env(), harness.ADMIN_USER, "--scopes", "tenants:read")
    MADE_SECRETS.append(read_only)
    with actors.client(read_only) as c:
        assert c.get(TENANTS).status_code == 200
        error = error_of(
            c.post(TENANTS, json={"tenant_id": "x1", "display_name": "x"}), 403, "PERMISSION_DENIED"
        )
        assert "tenants:write" in error["message"]
        error_of(c.get(KEYS), 403, "PERMISSION_DENIED")


def harness_env() -> dict[str, str]:
    from tests.conftest import SESSION_ENV

    return SESSION_ENV


def test_api_key_lifecycle(actors: Actors, airflow_server: harness.AirflowServer) -> None:
    with actors.client(actors.alice_key) as alice:
        created = alice.post(KEYS, json={"name": "ci", "scopes": ["tenants:read"], "expires_in_days": 30})
        assert created.status_code == 201, created.text
        key = created.json()
        MADE_SECRETS.append(key["key"])
        assert key["key"].startswith("afp_") and key["prefix"] == key["key"][:12]
        assert key["tenant_id"] == "team-a" and key["user"] == "alice" and key["status"] == "active"
        assert key["expires_at"] is not None

        listed = alice.get(KEYS).json()
        assert key["id"] in [k["id"] for k in listed["api_keys"]]
        assert key["key"] not in str(listed) and "secret_hash" not in str(listed)
        fetched = alice.get(f"{KEYS}/{key['id']}").json()
        assert "key" not in fetched and fetched["prefix"] == key["prefix"]

    with actors.client(key["key"]) as new:
        assert new.get(TENANTS).status_code == 200
    with actors.client(actors.alice_key) as alice:
        revoked = alice.delete(f"{KEYS}/{key['id']}")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    with actors.client(key["key"]) as new:
        error_of(new.get(TENANTS), 401, "AUTHENTICATION_FAILED")


def test_expired_key_is_401(actors: Actors, airflow_home) -> None:
    with actors.client(actors.alice_key) as alice:
        key = alice.post(KEYS, json={"name": "short", "expires_in_days": 1}).json()
    MADE_SECRETS.append(key["key"])
    from airflow_platform.compat import metadata_engine

    with metadata_engine().begin() as conn:
        conn.execute(
            sa.text("UPDATE platform_api_keys SET expires_at = '2000-01-01 00:00:00' WHERE key_id = :k"),
            {"k": key["id"]},
        )
    with actors.client(key["key"]) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")


def test_key_validation_errors(actors: Actors) -> None:
    with actors.client(actors.alice_key) as alice:
        error = error_of(alice.post(KEYS, json={"name": "x", "scopes": ["root"]}), 400, "VALIDATION_ERROR")
        assert "Unknown scope" in error["message"]
        error_of(alice.post(KEYS, json={"name": ""}), 400, "VALIDATION_ERROR")
        error_of(alice.post(KEYS, json={"name": "x", "tenant_id": "team-b"}), 403, "PERMISSION_DENIED")
        error_of(alice.post(KEYS, json={"name": "x", "user": "bob"}), 403, "PERMISSION_DENIED")


def test_tenant_walls_for_api_keys_and_tenants(actors: Actors) -> None:
    """B answers for A's objects exactly as for objects that do not exist (404, or the same
    role-based 403), and A's objects are unchanged afterwards."""
    with actors.client(actors.alice_key) as alice:
        alices = alice.post(KEYS, json={"name": "alice's"}).json()
    MADE_SECRETS.append(alices["key"])
    cases = [
        ("GET", KEYS + "/{}", alices["id"], "key_0000000000000000"),
        ("DELETE", KEYS + "/{}", alices["id"], "key_0000000000000000"),
        ("GET", TENANTS + "/{}", "team-a", "no-such-tenant"),
        ("PATCH", TENANTS + "/{}", "team-a", "no-such-tenant"),
        ("DELETE", TENANTS + "/{}", "team-a", "no-such-tenant"),
    ]
    with actors.client(actors.bob_key) as bob:
        for method, template, theirs, missing in cases:
            body = {"display_name": "pwned"} if method == "PATCH" else None
            a = bob.request(method, template.format(theirs), json=body)
            b = bob.request(method, template.format(missing), json=body)
            assert a.status_code == b.status_code, (method, template, a.text, b.text)
            assert a.status_code in (403, 404), a.text
            assert a.json()["error"]["code"] == b.json()["error"]["code"]
            if a.status_code == 404:
                assert a.json()["error"]["message"] == b.json()["error"]["message"].replace(missing, theirs)
        assert alices["id"] not in bob.get(KEYS).text
    with actors.client(actors.alice_key) as alice:
        assert alice.get(f"{KEYS}/{alices['id']}").json()["status"] == "active"
        assert alice.get(f"{TENANTS}/team-a").json()["display_name"] == "Team-A"


def test_airflow_login_works_on_platform_paths(actors: Actors) -> None:
    if harness.airflow_major() >= 3:
        token = httpx.post(
            f"{actors.base_url}/auth/token", json={"username": "alice", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
    else:
        headers = {"Authorization": "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}
    with httpx.Client(base_url=actors.base_url, headers=headers) as c:
        assert [t["tenant_id"] for t in c.get(TENANTS).json()["tenants"]] == ["team-a"]
    bad = {"Authorization": "Bearer not-a-jwt"}
    error_of(httpx.get(f"{actors.base_url}{TENANTS}", headers=bad), 401, "AUTHENTICATION_FAILED")


def test_admin_picks_a_tenant_with_the_header(actors: Actors) -> None:
    with actors.client(actors.admin_key, **{"X-Tenant-ID": "team-b"}) as c:
        assert [t["tenant_id"] for t in c.get(TENANTS).json()["tenants"]] == ["team-b"]
    with actors.client(actors.alice_key, **{"X-Tenant-ID": "team-b"}) as c:
        error_of(c.get(TENANTS), 403, "PERMISSION_DENIED")


def test_platform_key_on_airflows_own_api(actors: Actors) -> None:
    path = "/api/v2/dags" if harness.airflow_major() >= 3 else "/api/v1/dags"
    with actors.client(actors.admin_key) as c:
        response = c.get(path)
        assert response.status_code == 200, response.text
        assert "dags" in response.json()
        assert "X-RateLimit-Limit" in response.headers
    with actors.client("afp_" + "B" * 42) as c:
        response = c.get(path)
        # Airflow 2.11 itself answers an anonymous API call with 403, Airflow 3 with 401.
        assert response.status_code == (401 if harness.airflow_major() >= 3 else 403), response.text
    scoped = harness.create_key(harness_env(), harness.ADMIN_USER, "--scopes", "tenants:read")
    MADE_SECRETS.append(scoped)
    with actors.client(scoped) as c:
        error_of(c.get(path), 403, "PERMISSION_DENIED")


def test_rate_limit_headers_on_every_platform_response(actors: Actors) -> None:
    with actors.client(actors.alice_key) as c:
        response = c.get(TENANTS)
    assert int(response.headers["X-RateLimit-Limit"]) == 1000
    assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < 1000
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_oauth_token_on_airflows_own_api(actors: Actors) -> None:
    """A client-credentials token works on Airflow's API as far as its scopes go."""
    with actors.client(actors.admin_key) as admin:
        client = admin.post(
            "/api/v1/platform/oauth-clients", json={"name": "airflow api", "scopes": ["airflow:read"]}
        ).json()
    MADE_SECRETS.append(client["client_secret"])
    token = httpx.post(
        f"{actors.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    ).json()["access_token"]
    MADE_SECRETS.append(token)
    path = "/api/v2/dags" if harness.airflow_major() >= 3 else "/api/v1/dags"
    with httpx.Client(base_url=actors.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        response = c.get(path)
        assert response.status_code == 200, response.text
        assert "dags" in response.json()
        refused = c.patch(f"{path}/example_platform_pipeline", json={"is_paused": True})
        error_of(refused, 403, "PERMISSION_DENIED")
        assert "airflow:write" in refused.json()["error"]["message"]
        error_of(c.get(TENANTS), 403, "PERMISSION_DENIED")  # no tenants scope
