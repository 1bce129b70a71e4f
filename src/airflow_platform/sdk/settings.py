"""The client's settings, resolved once from arguments and the environment.

Explicit arguments win; ``AIRFLOW_PLATFORM_URL`` and ``AIRFLOW_PLATFORM_API_KEY`` fill what is left,
so code written for a laptop runs unchanged in CI. Conflicting credentials are refused here, before
any request, rather than guessed at.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from airflow_platform.sdk.auth import ApiKeyCredentials, ClientCredentials, Credentials, PasswordCredentials
from airflow_platform.sdk.retries import RetryPolicy

ENV_URL = "AIRFLOW_PLATFORM_URL"
ENV_API_KEY = "AIRFLOW_PLATFORM_API_KEY"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2

Timeout = float | httpx.Timeout | None


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    credentials: Credentials | None = field(repr=False)
    tenant: str | None
    timeout: httpx.Timeout
    retry: RetryPolicy
    headers: Mapping[str, str]


def resolve_settings(
    *,
    base_url: str | None,
    api_key: str | None,
    client_id: str | None,
    client_secret: str | None,
    username: str | None,
    password: str | None,
    tenant: str | None,
    timeout: Timeout,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
    environ: Mapping[str, str] | None = None,
) -> ClientSettings:
    env = os.environ if environ is None else environ
    url = (base_url or env.get(ENV_URL) or "").strip()
    if not url:
        raise ValueError(f"base_url is required: pass base_url=... or set {ENV_URL}.")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, not {url!r}.")
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more.")
    return ClientSettings(
        base_url=url.rstrip("/"),
        credentials=_credentials(api_key, client_id, client_secret, username, password, env),
        tenant=tenant or None,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        retry=RetryPolicy(max_retries=max_retries),
        headers=dict(default_headers or {}),
    )


def _credentials(
    api_key: str | None,
    client_id: str | None,
    client_secret: str | None,
    username: str | None,
    password: str | None,
    env: Mapping[str, str],
) -> Credentials | None:
    given = [
        name
        for name, present in (
            ("api_key", api_key),
            ("client_id/client_secret", client_id or client_secret),
            ("username/password", username or password),
        )
        if present
    ]
    if len(given) > 1:
        raise ValueError(f"Pass one kind of credentials, not {' and '.join(given)}.")
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise ValueError("OAuth2 needs both client_id and client_secret.")
        return ClientCredentials(client_id, client_secret)
    if username or password:
        if not (username and password):
            raise ValueError("An Airflow login needs both username and password.")
        return PasswordCredentials(username, password)
    key = api_key or env.get(ENV_API_KEY)
    return ApiKeyCredentials(key.strip()) if key and key.strip() else None
