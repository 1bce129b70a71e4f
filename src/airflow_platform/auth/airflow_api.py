"""A platform API key (or OAuth2 access token) on Airflow's own REST API, on both Airflows.

The key is checked exactly as on platform paths (hash look-up, expiry, revocation), its scopes
must allow ``airflow:read`` (GET) or ``airflow:write``, and the call counts against the key's rate
limit. Then Airflow authorizes the key's user with its own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_platform import compat
from airflow_platform.auth import credentials
from airflow_platform.auth.scopes import allows
from airflow_platform.exceptions import AuthenticationError, PermissionDeniedError, PlatformError


@dataclass(frozen=True)
class KeyUse:
    key_id: str
    user: Any
    rate_headers: dict[str, str]


def check_key(secret: str, method: str, path: str) -> KeyUse:
    """Resolve, scope-check and rate-limit one use of a platform key or OAuth2 access token
    (``afo_…``); raises a ``PlatformError``."""
    from airflow_platform.auth.rate_limit import classify, get_limiter
    from airflow_platform.services.api_keys import ApiKeyService

    secret = secret.strip()
    if secret.startswith(credentials.OAUTH_TOKEN_PREFIX):
        from airflow_platform.auth.oauth2 import resolve_access_token

        grant = resolve_access_token(secret)
        if grant is None:
            raise AuthenticationError("Invalid, expired or revoked access token.")
        identity, username, held, what = f"oauth:{grant.client_id}", grant.username, grant.scopes, "token"
    else:
        record = ApiKeyService.resolve(secret)
        if record is None:
            raise AuthenticationError("Invalid, expired or revoked API key.")
        identity, username, held, what = record.key_id, record.username, record.scopes, "key"
    write = method.upper() not in ("GET", "HEAD", "OPTIONS")
    if not allows(held, "Airflow API", write):
        raise PermissionDeniedError(
            f"This {what}'s scopes do not allow {'writing to' if write else 'reading'} Airflow's API "
            f"(needs 'airflow:{'write' if write else 'read'}').",
        )
    headers: dict[str, str] = {}
    limiter = get_limiter()
    if limiter is not None:
        decision = limiter.hit(identity, classify(method, path))
        headers = decision.headers()
        if not decision.allowed:
            raise decision.error()
    user = compat.find_user(username)
    if user is None:
        raise AuthenticationError(f"The {what}'s user no longer exists or is inactive.")
    return KeyUse(key_id=identity, user=user, rate_headers=headers)


def error_body(error: PlatformError, request_id: str) -> dict[str, Any]:
    from datetime import datetime, timezone

    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "request_id": request_id,
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        }
    }
