"""Credentials: API keys, OAuth2 client credentials (lazy token, refresh before expiry, one re-fetch
on 401), Airflow logins (JWT on Airflow 3, Basic on Airflow 2), settings from the environment."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import PlatformClient
from tests.sdk.fakes import BASE, HEALTH, dag_v1, dag_v2, health_body, jwt

TENANTS = "/api/v1/platform/tenants"
EMPTY = {"tenants": [], "total_entries": 0}


def token(access: str, expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": access, "token_type": "Bearer", "expires_in": expires_in, "scope": "*"}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_api_key_and_tenant_headers(api: respx.MockRouter) -> None:
    route = api.get(TENANTS).respond(json=EMPTY)
    with PlatformClient(BASE, api_key="afp_secret", tenant="team-a") as client:
        client.tenants.list()
    sent = route.calls.last.request.headers
    assert sent["X-API-Key"] == "afp_secret" and sent["X-Tenant-ID"] == "team-a"
    assert sent["User-Agent"].startswith("airflow-platform-sdk/")
    assert "Authorization" not in sent


def test_defaults_from_the_environment(api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_URL", BASE + "/")
    monkeypatch.setenv("AIRFLOW_PLATFORM_API_KEY", "afp_from_env")
    route = api.get(TENANTS).respond(json=EMPTY)
    with PlatformClient() as client:
        assert client.base_url == BASE
        client.tenants.list()
    assert route.calls.last.request.headers["X-API-Key"] == "afp_from_env"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "base_url is required"),
        ({"base_url": "ftp://x"}, "http:// or https://"),
        (
            {"base_url": BASE, "api_key": "k", "client_id": "c", "client_secret": "s"},
            "one kind of credentials",
        ),
        ({"base_url": BASE, "client_id": "c"}, "both client_id and client_secret"),
        ({"base_url": BASE, "username": "u"}, "both username and password"),
        ({"base_url": BASE, "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_settings_are_refused_up_front(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlatformClient(**kwargs)  # type: ignore[arg-type]


def test_secrets_never_in_reprs() -> None:
    client = PlatformClient(BASE, client_id="cid", client_secret="s3cr3t-value")
    assert "s3cr3t" not in repr(client) and "s3cr3t" not in repr(client._core.settings)


def test_oauth_token_fetched_lazily_once_and_sent_as_bearer(api: respx.MockRouter) -> None:
    token_route = api.post("/oauth/token").mock(return_value=token("tok-1"))
    route = api.get(TENANTS).respond(json=EMPTY)
    client = PlatformClient(BASE, client_id="my client", client_secret="s3cr:t")
    assert token_route.call_count == 0, "no token before the first call"
    client.tenants.list()
    client.tenants.list()
    assert token_route.call_count == 1
    asked = token_route.calls.last.request
    assert parse_qs(asked.content.decode()) == {"grant_type": ["client_credentials"]}
    user, secret = base64.b64decode(asked.headers["Authorization"].split()[1]).decode().split(":")
    assert (user, secret) == ("my%20client", "s3cr%3At"), "RFC 6749 §2.3.1: form-encoded, then Basic"
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-1"


def test_oauth_token_refreshed_before_expiry(api: respx.MockRouter) -> None:
    token_route = api.post("/oauth/token").mock(side_effect=[token("tok-1", 300), token("tok-2", 300)])
    route = api.get(TENANTS).respond(json=EMPTY)
    client = PlatformClient(BASE, client_id="c", client_secret="s")
    clock = Clock()
    client._core.auth._clock = clock  # type: ignore[union-attr]
    client.tenants.list()
    clock.now += 260  # 40 s left: still more than the 30 s margin (a tenth of 300 s)
    client.tenants.list()
    assert token_route.call_count == 1
    clock.now += 15  # 25 s left: refresh before it runs out
    client.tenants.list()
    assert token_route.call_count == 2
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-2"


def test_oauth_token_refetched_once_on_401(api: respx.MockRouter) -> None:
    api.post("/oauth/token").mock(side_effect=[token("old"), token("new"), token("newer")])
    unauthorized = httpx.Response(
        401, json={"error": {"code": "AUTHENTICATION_FAILED", "message": "revoked"}}
    )
    route = api.get(TENANTS).mock(
        side_effect=[
            httpx.Response(200, json=EMPTY),
            unauthorized,
            httpx.Response(200, json=EMPTY),
            unauthorized,
            unauthorized,
        ]
    )
    client = PlatformClient(BASE, client_id="c", client_secret="s")
    client.tenants.list()
    client.tenants.list()  # 401 with the cached token: fetch a new one, try again, succeed
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer old",
        "Bearer old",
        "Bearer new",
    ]
    with pytest.raises(exc.AuthenticationError):  # a second 401 with a fresh token is final
        client.tenants.list()


def test_oauth_bad_client_is_an_authentication_error(api: respx.MockRouter) -> None:
    api.post("/oauth/token").respond(401, json={"error": "invalid_client", "error_description": "Bad secret"})
    with pytest.raises(exc.AuthenticationError, match="Bad secret"):
        PlatformClient(BASE, client_id="c", client_secret="wrong").tenants.list()


def test_airflow3_login_exchanges_for_a_jwt_and_refetches_on_401(api: respx.MockRouter) -> None:
    api.get(HEALTH).respond(json=health_body("3.3.2"))
    first, second = jwt(), jwt()
    login = api.post("/auth/token").mock(
        side_effect=[
            httpx.Response(201, json={"access_token": first}),
            httpx.Response(201, json={"access_token": second}),
        ]
    )
    dags = api.get("/api/v2/dags").mock(
        side_effect=[
            httpx.Response(200, json={"dags": [dag_v2("a")], "total_entries": 1}),
            httpx.Response(401, json={"detail": "Token expired"}),
            httpx.Response(200, json={"dags": [], "total_entries": 0}),
        ]
    )
    client = PlatformClient(BASE, username="alice", password="pw")
    assert client.dags.list().dags[0].dag_id == "a"
    assert client.dags.list().total_entries == 0
    import json

    assert json.loads(login.calls[0].request.content) == {"username": "alice", "password": "pw"}
    assert [c.request.headers["Authorization"] for c in dags.calls] == [
        f"Bearer {first}",
        f"Bearer {first}",
        f"Bearer {second}",
    ]


def test_airflow2_login_is_http_basic(api: respx.MockRouter) -> None:
    api.get(HEALTH).respond(json=health_body("2.11.2"))
    login = api.post("/auth/token")
    dags = api.get("/api/v1/dags").respond(json={"dags": [dag_v1("a")], "total_entries": 1})
    PlatformClient(BASE, username="alice", password="pw").dags.list()
    expected = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert dags.calls.last.request.headers["Authorization"] == expected
    assert login.call_count == 0


def test_wrong_airflow3_password(api: respx.MockRouter) -> None:
    api.get(HEALTH).respond(json=health_body("3.3.2"))
    api.post("/auth/token").respond(401, json={"detail": "Invalid credentials"})
    with pytest.raises(exc.AuthenticationError, match="Invalid credentials"):
        PlatformClient(BASE, username="alice", password="nope").tenants.list()
