"""Who is asking: turns the request's credentials into a ``Principal``.

Tried in order: ``X-API-Key``; ``Authorization: Bearer`` (our OAuth2 access tokens, then Airflow 3
JWTs); ``Authorization: Basic`` (Airflow 2 only, as Airflow 2's own API accepts); the Airflow UI
session. Presented credentials that do not check out are a 401 even where none are needed:
a caller who sent a key wants to know it is bad.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from flask import g, request

from airflow_platform import compat
from airflow_platform.auth import credentials
from airflow_platform.auth.principal import Principal, Via
from airflow_platform.exceptions import AuthenticationError, PermissionDeniedError, ValidationError
from airflow_platform.services.tenants import DEFAULT_TENANT, TenantService

TENANT_HEADER = "X-Tenant-ID"
ALL_SCOPES = frozenset({"*"})


def tenant_service() -> TenantService:
    return TenantService(usernames_for_emails=compat.ensure_users_for_emails)


def _is_platform_admin(user: Any, scopes: frozenset[str]) -> bool:
    from airflow_platform.auth.scopes import allows

    return allows(scopes, "Tenants", write=True) and _is_authorized(user, "POST", "Tenants")


# An API key's user and what Airflow lets that user do are remembered for as long as the key
# itself (``api_keys.RESOLVE_CACHE_SECONDS``, 2 s): asking the auth manager costs a user load and
# FAB permission checks per request, more than a small query. An entry belongs to one resolved
# key record, so it goes when the key is looked up again (revocation works as before); a changed
# role or a deactivated user takes effect within that time. Tenant memberships are not cached.
_KEY_USER_TTL_S = 2.0
_KEY_USERS: dict[str, tuple[Any, Any, float]] = {}  # key_id -> (key record, user, until)
_DECISIONS: dict[int, tuple[Any, float, dict[tuple[str, str], bool]]] = {}  # id(user) -> ...
_CACHE_MAX = 10_000


def _key_user(record: Any) -> Any | None:
    now = time.monotonic()
    cached = _KEY_USERS.get(record.key_id)
    if cached is not None and cached[0] is record and cached[2] > now:
        return cached[1]
    user = compat.find_user(record.username)
    if user is None:
        _KEY_USERS.pop(record.key_id, None)
        return None
    if len(_KEY_USERS) >= _CACHE_MAX or len(_DECISIONS) >= _CACHE_MAX:
        _KEY_USERS.clear()
        _DECISIONS.clear()
    _KEY_USERS[record.key_id] = (record, user, now + _KEY_USER_TTL_S)
    _DECISIONS[id(user)] = (user, now + _KEY_USER_TTL_S, {})
    return user


def _is_authorized(user: Any, method: str, resource: str) -> bool:
    """``compat.is_authorized``, remembered for a cached API-key user (see ``_key_user``)."""
    entry = _DECISIONS.get(id(user))
    if entry is None or entry[0] is not user or entry[1] <= time.monotonic():
        return compat.is_authorized(user, method, resource)
    decisions = entry[2]
    asked = (method.upper(), resource)
    allowed = decisions.get(asked)
    if allowed is None:
        allowed = decisions[asked] = compat.is_authorized(user, method, resource)
    return allowed


def _pick_tenant(username: str, admin: bool, bound: str | None, via: Via) -> str | None:
    """The tenant a principal acts in: the credential's, else the X-Tenant-ID header, else the
    user's own (platform admins: all tenants)."""
    tenants = tenant_service()
    asked = request.headers.get(TENANT_HEADER)
    if bound is not None:
        if asked and asked != bound:
            raise PermissionDeniedError(f"This credential is bound to tenant {bound!r}.")
        return bound
    if admin and not asked:
        return None
    memberships = tenants.memberships(username)
    if asked:
        if not tenants.exists(asked):
            raise PermissionDeniedError(f"Tenant {asked!r} does not exist or is not yours.")
        if not admin and asked not in memberships and not (asked == DEFAULT_TENANT and not memberships):
            raise PermissionDeniedError(f"Tenant {asked!r} does not exist or is not yours.")
        return asked
    if not memberships:
        tenants.ensure_default()
        return DEFAULT_TENANT
    if len(memberships) == 1:
        return next(iter(memberships))
    raise ValidationError(
        f"You belong to several tenants ({', '.join(sorted(memberships))}): choose one with the "
        f"{TENANT_HEADER} header.",
        details={"tenants": sorted(memberships)},
    )


def _principal(user: Any, via: Via, scopes: frozenset[str], bound: str | None, identity: str) -> Principal:
    username = str(user.username)
    admin = _is_platform_admin(user, scopes)
    tenant = _pick_tenant(username, admin, bound, via)
    return Principal(
        username=username,
        user=user,
        tenant_id=tenant,
        scopes=scopes,
        via=via,
        is_platform_admin=admin and tenant is None,
        rate_identity=identity,
        key_id=identity if via == "api_key" else None,
    )


def _from_api_key(secret: str) -> Principal:
    from airflow_platform.services.api_keys import ApiKeyService

    record = ApiKeyService.resolve(secret.strip())
    if record is None:
        raise AuthenticationError("Invalid, expired or revoked API key.")
    user = _key_user(record)
    if user is None:
        raise AuthenticationError("The API key's user no longer exists or is inactive.")
    return _principal(user, "api_key", record.scopes, record.tenant_id, record.key_id)


def _from_bearer(token: str) -> Principal:
    if token.startswith(credentials.OAUTH_TOKEN_PREFIX):
        from airflow_platform.auth.oauth2 import resolve_access_token

        grant = resolve_access_token(token)
        if grant is None:
            raise AuthenticationError("Invalid, expired or revoked access token.")
        user = compat.find_user(grant.username)
        if user is None:
            raise AuthenticationError("The token's user no longer exists or is inactive.")
        return _principal(user, "oauth", grant.scopes, grant.tenant_id, f"oauth:{grant.client_id}")
    user = compat.user_from_airflow_jwt(token)
    if user is None:
        raise AuthenticationError("Invalid or expired bearer token.")
    return _principal(user, "airflow_jwt", ALL_SCOPES, None, f"user:{user.username}")


def _from_basic(value: str) -> Principal:
    try:
        username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("Malformed Basic credentials.") from None
    user = compat.user_from_basic_auth(username, password)
    if user is None:
        hint = "" if not compat.is_airflow_3() else " On Airflow 3, exchange them at POST /auth/token."
        raise AuthenticationError("Invalid username or password." + hint)
    return _principal(user, "basic", ALL_SCOPES, None, f"user:{user.username}")


def same_origin() -> bool:
    """Browsers send Origin (or at least Referer) on cross-site writes: require it to be us."""
    from urllib.parse import urlsplit

    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def authenticate(required: bool = True) -> Principal | None:
    """The request's principal (cached on ``g``); raises 401 when ``required`` and there is none."""
    if "platform_principal" in g:
        return g.platform_principal
    principal: Principal | None = None
    key = request.headers.get("X-API-Key")
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if key:
        principal = _from_api_key(key)
    elif scheme.lower() == "bearer" and value.strip():
        principal = _from_bearer(value.strip())
    elif scheme.lower() == "basic" and value.strip():
        principal = _from_basic(value.strip())
    else:
        user = compat.session_user(request.cookies)
        if user is not None:
            if request.method not in ("GET", "HEAD", "OPTIONS") and not same_origin():
                raise PermissionDeniedError(
                    "Cross-site request refused: a write with the Airflow session cookie must come "
                    "from this site's own pages (Origin or Referer)."
                )
            principal = _principal(user, "session", ALL_SCOPES, None, f"user:{user.username}")
    if principal is None and required:
        raise AuthenticationError(
            "Authentication required: send an X-API-Key header, an Authorization: Bearer token, "
            "or log in to Airflow."
        )
    g.platform_principal = principal
    return principal


def authorize(principal: Principal, method: str, resource: str) -> None:
    """Scopes first (what the credential allows), then Airflow's auth manager (what the user may)."""
    from airflow_platform.auth.permissions import action_for
    from airflow_platform.auth.scopes import AREA_OF_RESOURCE, allows

    write = method.upper() not in ("GET", "HEAD", "OPTIONS")
    if not allows(principal.scopes, resource, write):
        area = AREA_OF_RESOURCE.get(resource, resource)
        raise PermissionDeniedError(
            f"This credential's scopes do not allow {'writing' if write else 'reading'} {resource} "
            f"(needs '{area}:{'write' if write else 'read'}').",
            details={"resource": resource, "scopes": sorted(principal.scopes)},
        )
    if not _is_authorized(principal.user, method, resource):
        raise PermissionDeniedError(
            f"User {principal.username!r} may not {action_for(method).removeprefix('can_')} {resource}.",
            details={"resource": resource, "action": action_for(method)},
        )
