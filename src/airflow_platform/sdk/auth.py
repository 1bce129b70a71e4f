"""How the client proves who it is: an API key, OAuth2 client credentials, or an Airflow login.

The token-based ones are ``httpx.Auth`` flows: plain generators that yield requests and receive
responses, which httpx drives both from the sync and from the async client. Tokens are fetched on
first use, refreshed shortly before they expire, and fetched again once when the server answers 401
(revoked, or the server's key changed).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from airflow_platform.sdk.errors import error_from_response
from airflow_platform.sdk.server import HEALTH_PATH, ServerInfo

#: Refresh this long before a token expires (at most; a tenth of short lifetimes).
REFRESH_MARGIN_S = 60.0


@dataclass(frozen=True)
class ApiKeyCredentials:
    key: str = field(repr=False)


@dataclass(frozen=True)
class ClientCredentials:
    """OAuth2 ``client_credentials`` against ``{base_url}/oauth/token``."""

    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None


@dataclass(frozen=True)
class PasswordCredentials:
    """An Airflow user: a JWT from ``POST /auth/token`` on Airflow 3, HTTP Basic on Airflow 2."""

    username: str
    password: str = field(repr=False)


Credentials = ApiKeyCredentials | ClientCredentials | PasswordCredentials


def _basic(user: str, secret: str) -> str:
    raw = f"{user}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def jwt_lifetime(token: str, now: float | None = None) -> float | None:
    """Seconds until a JWT's ``exp`` (read, not verified: the server verifies), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - (time.time() if now is None else now)
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return None


class RefreshingBearerAuth(httpx.Auth):
    """A bearer token fetched lazily, refreshed before expiry, re-fetched once on 401."""

    requires_response_body = True

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0

    def token_request(self) -> httpx.Request:
        raise NotImplementedError

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        """(token, lifetime in seconds or None) from the token endpoint's answer."""
        raise NotImplementedError

    def _accept(self, response: httpx.Response) -> None:
        if not response.is_success:
            raise error_from_response(response)
        token, lifetime = self.read_token(response)
        self._token = token
        if lifetime is None:
            self._refresh_at = float("inf")  # unknown: rely on the 401 re-fetch
        else:
            self._refresh_at = self._clock() + lifetime - min(REFRESH_MARGIN_S, lifetime / 10)

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._refresh_at

    def bearer_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = False
        if not self._valid():
            self._accept((yield self.token_request()))
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            self._accept((yield self.token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self.bearer_flow(request)


class OAuthClientCredentialsAuth(RefreshingBearerAuth):
    """RFC 6749 §4.4; the client authenticates with HTTP Basic (§2.3.1: form-encoded id and secret)."""

    def __init__(
        self, token_url: str, credentials: ClientCredentials, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(clock)
        self.token_url = token_url
        self.credentials = credentials

    def token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.credentials.scope:
            form["scope"] = self.credentials.scope
        user = quote(self.credentials.client_id, safe="")
        secret = quote(self.credentials.client_secret, safe="")
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Authorization": _basic(user, secret), "Accept": "application/json"},
        )

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        from airflow_platform.schemas.oauth import TokenResponse

        token = TokenResponse.model_validate(response.json())
        return token.access_token, float(token.expires_in)


class AirflowLoginAuth(RefreshingBearerAuth):
    """Airflow 3: exchange username/password for Airflow's JWT. Airflow 2: HTTP Basic (Airflow 2's
    ``basic_auth`` API backend). Which one is decided by the server's version, learnt once."""

    def __init__(
        self,
        base_url: str,
        credentials: PasswordCredentials,
        info: ServerInfo,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.info = info

    def token_request(self) -> httpx.Request:
        body = {"username": self.credentials.username, "password": self.credentials.password}
        return httpx.Request("POST", f"{self.base_url}/auth/token", json=body)

    def read_token(self, response: httpx.Response) -> tuple[str, float | None]:
        token = str(response.json()["access_token"])
        return token, jwt_lifetime(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.info.known:
            self.info.learn_from_response((yield httpx.Request("GET", f"{self.base_url}{HEALTH_PATH}")))
        if self.info.major >= 3:
            yield from self.bearer_flow(request)
            return
        request.headers["Authorization"] = _basic(self.credentials.username, self.credentials.password)
        yield request


def auth_for(credentials: Credentials | None, base_url: str, info: ServerInfo) -> httpx.Auth | None:
    """The flow for token-based credentials; API keys travel as a plain header instead."""
    if isinstance(credentials, ClientCredentials):
        return OAuthClientCredentialsAuth(f"{base_url.rstrip('/')}/oauth/token", credentials)
    if isinstance(credentials, PasswordCredentials):
        return AirflowLoginAuth(base_url, credentials, info)
    return None
