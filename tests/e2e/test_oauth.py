"""OAuth2 over HTTP against the real server: client registration, the token endpoint (client
credentials, authorization code with PKCE, refresh rotation), revocation, the consent flow through
Airflow's own login, and the tenant walls around clients."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, PASSWORD, Actors

pytestmark = pytest.mark.e2e
CLIENTS = "/api/v1/platform/oauth-clients"
TENANTS = "/api/v1/platform/tenants"
REDIRECT = "http://127.0.0.1:9/callback"


def keep(*values: str | None) -> None:
    MADE_SECRETS.extend(v for v in values if v)


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    return body


def oauth_error(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert body.get("error_description")
    assert response.headers["Cache-Control"] == "no-store"
    return body


@dataclass
class Registered:
    client_id: str
    client_secret: str
    body: dict[str, Any]

    @property
    def auth(self) -> tuple[str, str]:
        return (self.client_id, self.client_secret)


@pytest.fixture(scope="module")
def admin(actors: Actors) -> Iterator[httpx.Client]:
    with actors.client(actors.admin_key) as client:
        yield client


def register(creator: httpx.Client, **body: Any) -> Registered:
    response = creator.post(CLIENTS, json={"name": "e2e app", **body})
    assert response.status_code == 201, response.text
    made = response.json()
    keep(made["client_secret"])
    return Registered(made["client_id"], made["client_secret"], made)


def token(actors: Actors, data: dict[str, str], auth: tuple[str, str] | None = None) -> httpx.Response:
    response = httpx.post(f"{actors.base_url}/oauth/token", data=data, auth=auth, timeout=30)
    if response.status_code == 200:
        keep(response.json()["access_token"], response.json().get("refresh_token"))
    return response


def bearer(actors: Actors, access_token: str) -> httpx.Client:
    return httpx.Client(
        base_url=actors.base_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    )


def tenant_ids(client: httpx.Client) -> list[str]:
    response = client.get(TENANTS)
    assert response.status_code == 200, response.text
    return [t["tenant_id"] for t in response.json()["tenants"]]


# --- registration -------------------------------------------------------------------------------


def test_registering_a_client_shows_the_secret_once(admin: httpx.Client) -> None:
    made = register(admin, tenant_id="team-a", scopes=["tenants:read"])
    assert made.client_id.startswith("cli_") and made.client_secret.startswith("afs_")
    assert made.body["tenant_id"] == "team-a" and made.body["user"] == harness.ADMIN_USER
    assert made.body["grant_types"] == ["client_credentials"] and made.body["status"] == "active"
    listed = admin.get(CLIENTS)
    assert listed.status_code == 200
    assert made.client_id in [c["client_id"] for c in listed.json()["oauth_clients"]]
    fetched = admin.get(f"{CLIENTS}/{made.client_id}")
    for response in (listed, fetched):
        assert made.client_secret not in response.text and "secret_hash" not in response.text
    assert "client_secret" not in fetched.json()


def test_client_validation_errors_use_the_envelope(admin: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"grant_types": ["password"]}, "grant_types"),
        ({"grant_types": ["authorization_code"]}, "redirect URI"),
        ({"grant_types": ["authorization_code"], "redirect_uris": ["http://app.example.com/cb"]}, "https"),
        (
            {"grant_types": ["authorization_code"], "redirect_uris": ["https://app.example.com/cb#x"]},
            "fragment",
        ),
        ({"scopes": ["root"]}, "Unknown scope"),
        ({"name": ""}, "name"),
        ({"unexpected": 1}, "unexpected"),
        ({"tenant_id": "no-such-tenant"}, "No tenant"),
        ({"user": "nobody-at-all"}, "No Airflow user"),
    ]
    for body, hint in cases:
        error = error_of(admin.post(CLIENTS, json={"name": "x", **body}), 400, "VALIDATION_ERROR")
        assert hint in error["message"] or hint in str(error["details"]), (body, error)


# --- client credentials -------------------------------------------------------------------------


def test_client_credentials_with_basic_and_with_post(actors: Actors, admin: httpx.Client) -> None:
    made = register(admin, tenant_id="team-a")
    by_basic = token(actors, {"grant_type": "client_credentials"}, auth=made.auth)
    by_post = token(
        actors,
        {
            "grant_type": "client_credentials",
            "client_id": made.client_id,
            "client_secret": made.client_secret,
        },
    )
    for response in (by_basic, by_post):
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        body = response.json()
        assert body["access_token"].startswith("afo_") and body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600 and body["scope"] == "*" and "refresh_token" not in body
        # The client acts as the admin, but bound to team-a: the tenant wall holds.
        with bearer(actors, body["access_token"]) as c:
            assert tenant_ids(c) == ["team-a"]


def test_client_credentials_as_a_tenant_member(actors: Actors, admin: httpx.Client) -> None:
    made = register(admin, user="alice", tenant_id="team-a", scopes=["tenants:read"])
    body = token(actors, {"grant_type": "client_credentials"}, auth=made.auth).json()
    with bearer(actors, body["access_token"]) as c:
        assert tenant_ids(c) == ["team-a"]
        assert c.get(f"{TENANTS}/team-b").status_code == 404
        error = error_of(
            c.post(TENANTS, json={"tenant_id": "zz", "display_name": "z"}), 403, "PERMISSION_DENIED"
        )
        assert "tenants:write" in error["message"]


def test_scopes_are_narrowed_to_the_clients(actors: Actors, admin: httpx.Client) -> None:
    made = register(admin, scopes=["tenants:read"])
    narrowed = token(
        actors, {"grant_type": "client_credentials", "scope": "tenants:read api_keys:read"}, made.auth
    )
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "tenants:read"
    oauth_error(token(actors, {"grant_type": "client_credentials", "scope": "api_keys:read"}, made.auth),
                400, "invalid_scope")  # fmt: skip
    oauth_error(
        token(actors, {"grant_type": "client_credentials", "scope": "root"}, made.auth), 400, "invalid_scope"
    )


def test_token_endpoint_errors_are_rfc6749(actors: Actors, admin: httpx.Client) -> None:
    made = register(admin)
    wrong = (made.client_id, made.client_secret[:-1] + ("A" if made.client_secret[-1] != "A" else "B"))
    response = oauth_error(token(actors, {"grant_type": "client_credentials"}, wrong), 401, "invalid_client")
    assert made.client_secret not in str(response)
    unknown = token(actors, {"grant_type": "client_credentials"}, ("cli_nobody", made.client_secret))
    assert oauth_error(unknown, 401, "invalid_client")
    assert "WWW-Authenticate" in unknown.headers
    by_post = token(
        actors, {"grant_type": "client_credentials", "client_id": made.client_id, "client_secret": wrong[1]}
    )
    oauth_error(by_post, 401, "invalid_client")
    oauth_error(token(actors, {"grant_type": "client_credentials"}), 401, "invalid_client")
    oauth_error(token(actors, {"grant_type": "password", "username": "a", "password": "b"}, made.auth),
                400, "unsupported_grant_type")  # fmt: skip
    oauth_error(token(actors, {"grant_type": "authorization_code", "code": "x"}, made.auth),
                400, "unauthorized_client")  # fmt: skip
    as_json = httpx.post(
        f"{actors.base_url}/oauth/token", json={"grant_type": "client_credentials"}, auth=made.auth
    )
    oauth_error(as_json, 400, "invalid_request")


def test_revocation(actors: Actors, admin: httpx.Client) -> None:
    made, other = register(admin), register(admin)
    first = token(actors, {"grant_type": "client_credentials"}, made.auth).json()["access_token"]
    second = token(actors, {"grant_type": "client_credentials"}, made.auth).json()["access_token"]
    revoke = f"{actors.base_url}/oauth/revoke"
    # Another client may not revoke it: answered 200, and nothing happens.
    assert httpx.post(revoke, data={"token": first}, auth=other.auth).status_code == 200
    with bearer(actors, first) as c:
        assert c.get(TENANTS).status_code == 200
    oauth_error(httpx.post(revoke, data={"token": first}, auth=(made.client_id, other.client_secret)),
                401, "invalid_client")  # fmt: skip
    response = httpx.post(revoke, data={"token": first, "token_type_hint": "access_token"}, auth=made.auth)
    assert response.status_code == 200, response.text
    with bearer(actors, first) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")
    with bearer(actors, second) as c:
        assert c.get(TENANTS).status_code == 200
    for unknown in ("afo_" + "x" * 42, "garbage", first):
        assert httpx.post(revoke, data={"token": unknown}, auth=made.auth).status_code == 200


def test_deleting_a_client_ends_its_tokens(actors: Actors, admin: httpx.Client) -> None:
    made = register(admin)
    access = token(actors, {"grant_type": "client_credentials"}, made.auth).json()["access_token"]
    deleted = admin.delete(f"{CLIENTS}/{made.client_id}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "revoked"
    with bearer(actors, access) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")
    oauth_error(token(actors, {"grant_type": "client_credentials"}, made.auth), 401, "invalid_client")


# --- authorization code with PKCE -----------------------------------------------------------------


@dataclass
class Person:
    """How a browser of alice's is logged in: Airflow 3's ``_token`` cookie, Airflow 2's Basic."""

    headers: dict[str, str]
    cookies: dict[str, str]

    def browser(self, base_url: str) -> httpx.Client:
        return httpx.Client(
            base_url=base_url, headers=self.headers, cookies=self.cookies, follow_redirects=False, timeout=30
        )


@pytest.fixture(scope="module")
def alice(actors: Actors) -> Person:
    if harness.airflow_major() >= 3:
        response = httpx.post(
            f"{actors.base_url}/auth/token", json={"username": "alice", "password": PASSWORD}
        )
        assert response.status_code in (200, 201), response.text
        jwt = response.json()["access_token"]
        keep(jwt)
        return Person(headers={}, cookies={"_token": jwt})
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    return Person(headers={"Authorization": f"Basic {basic}"}, cookies={})


@pytest.fixture(scope="module")
def web_app(admin: httpx.Client) -> Registered:
    return register(
        admin,
        name="Alice's Dashboard",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT, "https://dash.example.com/cb"],
        scopes=["tenants:read", "api_keys:read"],
    )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    keep(verifier)
    return verifier, challenge


def authorize_params(app: Registered, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": "tenants:read",
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def redirected_to(response: httpx.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in parse_qs(parts.query).items()}


def consent(
    actors: Actors, person: Person, params: dict[str, str], decision: str = "approve"
) -> httpx.Response:
    with person.browser(actors.base_url) as browser:
        page = browser.get("/oauth/authorize", params=params)
        assert page.status_code == 200, page.text
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "Alice&#39;s Dashboard" in page.text and "alice" in page.text and "team-a" in page.text
        assert 'name="code_challenge"' in page.text and "Approve" in page.text and "Deny" in page.text
        return browser.post(
            "/oauth/authorize", data={**params, "decision": decision}, headers={"Origin": actors.base_url}
        )


def code_for(actors: Actors, person: Person, app: Registered, challenge: str) -> tuple[str, dict[str, str]]:
    params = authorize_params(app, challenge)
    target, query = redirected_to(consent(actors, person, params))
    assert target == REDIRECT and query["state"] == params["state"]
    assert query["code"].startswith("afc_")
    keep(query["code"])
    return query["code"], params


def exchange(actors: Actors, app: Registered, code: str, verifier: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return token(actors, data, app.auth)


def test_authorization_code_with_pkce(actors: Actors, alice: Person, web_app: Registered) -> None:
    verifier, challenge = pkce()
    code, _ = code_for(actors, alice, web_app, challenge)
    response = exchange(actors, web_app, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "tenants:read" and body["refresh_token"].startswith("afr_")
    with bearer(actors, body["access_token"]) as c:
        assert tenant_ids(c) == ["team-a"]  # alice, in her tenant
        error_of(c.get("/api/v1/platform/api-keys"), 403, "PERMISSION_DENIED")  # not in the token's scopes

    # A code works once; presenting it again also ends what it bought.
    oauth_error(exchange(actors, web_app, code, verifier), 400, "invalid_grant")
    with bearer(actors, body["access_token"]) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")


def test_pkce_verifier_must_match(actors: Actors, alice: Person, web_app: Registered) -> None:
    verifier, challenge = pkce()
    code, _ = code_for(actors, alice, web_app, challenge)
    oauth_error(exchange(actors, web_app, code, pkce()[0]), 400, "invalid_grant")
    missing = token(
        actors, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, web_app.auth
    )
    oauth_error(missing, 400, "invalid_request")
    other_uri = token(
        actors,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://dash.example.com/cb",
         "code_verifier": verifier},
        web_app.auth,
    )  # fmt: skip
    oauth_error(other_uri, 400, "invalid_grant")
    assert exchange(actors, web_app, code, verifier).status_code == 200  # failed attempts did not spend it


def test_refresh_tokens_rotate(actors: Actors, alice: Person, web_app: Registered) -> None:
    verifier, challenge = pkce()
    code, _ = code_for(actors, alice, web_app, challenge)
    first = exchange(actors, web_app, code, verifier).json()
    refreshed = token(
        actors, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, web_app.auth
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"] and second["scope"] == "tenants:read"
    with bearer(actors, second["access_token"]) as c:
        assert tenant_ids(c) == ["team-a"]
    with bearer(actors, first["access_token"]) as c:
        error_of(c.get(TENANTS), 401, "AUTHENTICATION_FAILED")  # rotation ends the old pair
    reused = token(
        actors, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, web_app.auth
    )
    oauth_error(reused, 400, "invalid_grant")
    other = register_other(actors)
    stolen = token(
        actors, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, other.auth
    )
    assert stolen.status_code in (400, 401) and stolen.json()["error"] in (
        "invalid_grant",
        "unauthorized_client",
    )
    assert (
        token(
            actors, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, web_app.auth
        ).status_code
        == 200
    )


def register_other(actors: Actors) -> Registered:
    with actors.client(actors.admin_key) as admin:
        return register(
            admin,
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=["https://other.example/cb"],
        )


def test_deny_sends_access_denied(actors: Actors, alice: Person, web_app: Registered) -> None:
    params = authorize_params(web_app, pkce()[1])
    target, query = redirected_to(consent(actors, alice, params, decision="deny"))
    assert target == REDIRECT
    assert query == {
        "error": "access_denied",
        "error_description": query["error_description"],
        "state": params["state"],
    }


def test_no_login_goes_to_airflows_login(actors: Actors, web_app: Registered) -> None:
    params = authorize_params(web_app, pkce()[1])
    response = httpx.get(f"{actors.base_url}/oauth/authorize", params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert "/login/" in location and "next=" in location
    assert quote("/oauth/authorize", safe="") in location
    assert quote(web_app.client_id, safe="") in location or web_app.client_id in location


def test_bad_clients_and_redirect_uris_never_redirect(
    actors: Actors, alice: Person, web_app: Registered
) -> None:
    challenge = pkce()[1]
    cases = [
        authorize_params(web_app, challenge, redirect_uri="https://evil.example.com/cb"),
        authorize_params(web_app, challenge, redirect_uri=REDIRECT + "/extra"),
        {k: v for k, v in authorize_params(web_app, challenge).items() if k != "redirect_uri"},
        authorize_params(web_app, challenge, client_id="cli_does_not_exist"),
        {k: v for k, v in authorize_params(web_app, challenge).items() if k != "client_id"},
        authorize_params(web_app, challenge, redirect_uri='https://evil.example.com/"\\'),
    ]
    with alice.browser(actors.base_url) as browser:
        for params in cases:
            for response in (
                browser.get("/oauth/authorize", params=params),
                browser.post("/oauth/authorize", data={**params, "decision": "approve"},
                             headers={"Origin": actors.base_url}),
            ):  # fmt: skip
                assert "Location" not in response.headers, (params, response.headers)
                error_of(response, 400, "VALIDATION_ERROR")
    unauthenticated = httpx.get(f"{actors.base_url}/oauth/authorize", params=cases[0], follow_redirects=False)
    error_of(unauthenticated, 400, "VALIDATION_ERROR")  # refused before any login


def test_pkce_s256_is_required(actors: Actors, alice: Person, web_app: Registered) -> None:
    challenge = pkce()[1]
    no_pkce = {k: v for k, v in authorize_params(web_app, challenge).items() if not k.startswith("code_")}
    cases = [
        no_pkce,
        authorize_params(web_app, secrets.token_urlsafe(48), code_challenge_method="plain"),
        {k: v for k, v in authorize_params(web_app, challenge).items() if k != "code_challenge_method"},
        authorize_params(web_app, challenge, response_type="token"),
        authorize_params(web_app, challenge, scope="webhooks:read"),
    ]
    expected = [
        "invalid_request",
        "invalid_request",
        "invalid_request",
        "unsupported_response_type",
        "invalid_scope",
    ]
    with alice.browser(actors.base_url) as browser:
        for params, error in zip(cases, expected, strict=True):
            target, query = redirected_to(browser.get("/oauth/authorize", params=params))
            assert target == REDIRECT and query["error"] == error and query["state"] == params["state"], query


def test_only_a_person_can_consent(actors: Actors, alice: Person, web_app: Registered) -> None:
    params = authorize_params(web_app, pkce()[1])
    with actors.client(actors.alice_key) as keyed:
        error_of(keyed.get("/oauth/authorize", params=params), 403, "PERMISSION_DENIED")
    with alice.browser(actors.base_url) as browser:
        cross_site = browser.post(
            "/oauth/authorize",
            data={**params, "decision": "approve"},
            headers={"Origin": "https://evil.example"},
        )
        error_of(cross_site, 403, "PERMISSION_DENIED")
        assert "Location" not in cross_site.headers
    error_of(httpx.post(f"{actors.base_url}/oauth/authorize", data={**params, "decision": "approve"}),
             401, "AUTHENTICATION_FAILED")  # fmt: skip


def test_airflow_jwt_as_bearer_can_consent_on_airflow_3(actors: Actors, web_app: Registered) -> None:
    if harness.airflow_major() < 3:
        pytest.skip("Airflow 2 has no JWTs; Basic and the UI session cover it")
    jwt = httpx.post(f"{actors.base_url}/auth/token", json={"username": "alice", "password": PASSWORD}).json()
    keep(jwt["access_token"])
    person = Person(headers={"Authorization": f"Bearer {jwt['access_token']}"}, cookies={})
    verifier, challenge = pkce()
    code, _ = code_for(actors, person, web_app, challenge)
    assert exchange(actors, web_app, code, verifier).status_code == 200


# --- tenant walls -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant_operators(actors: Actors, admin: httpx.Client) -> tuple[str, str]:
    """Keys of two Op users (who may manage OAuth clients), each admin of their own tenant."""
    harness.create_users(SESSION_ENV, [("carol", "Op", PASSWORD), ("dave", "Op", PASSWORD)])
    for tenant, owner in (("oauth-a", "carol"), ("oauth-b", "dave")):
        response = admin.post(
            TENANTS,
            json={"tenant_id": tenant, "display_name": tenant, "admin_users": [f"{owner}@example.com"]},
        )
        assert response.status_code in (201, 409), response.text
    carol = harness.create_key(SESSION_ENV, "carol", "--tenant", "oauth-a")
    dave = harness.create_key(SESSION_ENV, "dave", "--tenant", "oauth-b")
    keep(carol, dave)
    return carol, dave


def test_tenant_walls_for_clients(actors: Actors, tenant_operators: tuple[str, str]) -> None:
    carol_key, dave_key = tenant_operators
    with actors.client(carol_key) as carol:
        theirs = register(carol, name="carol's")
        assert theirs.body["tenant_id"] == "oauth-a" and theirs.body["user"] == "carol"
        error_of(carol.post(CLIENTS, json={"name": "x", "tenant_id": "oauth-b"}), 403, "PERMISSION_DENIED")
        error_of(carol.post(CLIENTS, json={"name": "x", "user": "dave"}), 403, "PERMISSION_DENIED")
    missing = "cli_00000000000000000000"
    with actors.client(dave_key) as dave:
        for method in ("GET", "DELETE"):
            a = dave.request(method, f"{CLIENTS}/{theirs.client_id}")
            b = dave.request(method, f"{CLIENTS}/{missing}")
            error_of(a, 404, "RESOURCE_NOT_FOUND")
            error_of(b, 404, "RESOURCE_NOT_FOUND")
            assert a.json()["error"]["message"] == b.json()["error"]["message"].replace(
                missing, theirs.client_id
            )
        assert theirs.client_id not in dave.get(CLIENTS).text
    with actors.client(carol_key) as carol:
        assert carol.get(f"{CLIENTS}/{theirs.client_id}").json()["status"] == "active"
    access = token(actors, {"grant_type": "client_credentials"}, theirs.auth).json()["access_token"]
    with bearer(actors, access) as c:
        assert tenant_ids(c) == ["oauth-a"]


def test_bob_answers_for_alices_client_as_for_a_missing_one(actors: Actors, admin: httpx.Client) -> None:
    """Whatever bob's role allows, alice's client looks to him exactly like one that does not exist."""
    alices = register(admin, user="alice", tenant_id="team-a")
    missing = "cli_00000000000000000000"
    with actors.client(actors.bob_key) as bob:
        for method in ("GET", "DELETE"):
            a = bob.request(method, f"{CLIENTS}/{alices.client_id}")
            b = bob.request(method, f"{CLIENTS}/{missing}")
            assert a.status_code == b.status_code and a.status_code in (403, 404), a.text
            assert a.json()["error"]["code"] == b.json()["error"]["code"]
    assert admin.get(f"{CLIENTS}/{alices.client_id}").json()["status"] == "active"


def test_a_browser_logs_in_with_airflow_then_consents(actors: Actors, web_app: Registered) -> None:
    """The reference's flow end to end: no session, Airflow's own login form, back to the consent
    page with the session Airflow set, approve, and the code buys a working token."""
    verifier, challenge = pkce()
    params = authorize_params(web_app, challenge)
    with httpx.Client(base_url=actors.base_url, follow_redirects=False, timeout=30) as browser:
        login_url = browser.get("/oauth/authorize", params=params).headers["Location"]
        form = browser.get(login_url)
        assert form.status_code == 200, form.text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        back = browser.post(
            login_url,
            data={"username": "alice", "password": PASSWORD, "csrf_token": csrf.group(1)},
            headers={"Origin": actors.base_url},
        )
        assert back.status_code == 302, back.text
        consent_url = back.headers["Location"]
        assert "/oauth/authorize" in consent_url and web_app.client_id in consent_url
        page = browser.get(consent_url)
        assert page.status_code == 200 and "Alice&#39;s Dashboard" in page.text, page.text
        decision = browser.post(
            "/oauth/authorize", data={**params, "decision": "approve"}, headers={"Origin": actors.base_url}
        )
    target, query = redirected_to(decision)
    assert target == REDIRECT and query["state"] == params["state"]
    keep(query["code"], *browser.cookies.values())
    response = exchange(actors, web_app, query["code"], verifier)
    assert response.status_code == 200, response.text
    with bearer(actors, response.json()["access_token"]) as c:
        assert tenant_ids(c) == ["team-a"]
