"""What runs before every operation: authenticate, authorize, count against the rate limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, g, request

from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import AuthenticationError, PermissionDeniedError

if TYPE_CHECKING:
    from airflow_platform.api.routing import Operation


def _rate_limit(identity: str) -> None:
    from airflow_platform.auth.rate_limit import classify, get_limiter

    limiter = get_limiter()
    if limiter is None:
        return
    decision = limiter.hit(identity, classify(request.method, request.path))
    g.platform_rate_headers = decision.headers()
    if not decision.allowed:
        raise decision.error()


def _client_identity() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def guard(op: Operation) -> Principal | None:
    from airflow_platform.api.authn import authenticate, authorize

    try:
        principal = authenticate(required=op.resource is not None)
    except AuthenticationError:
        _rate_limit(_client_identity())  # failed attempts count against the caller's address
        raise
    _rate_limit(principal.rate_identity if principal else _client_identity())
    if op.resource is not None:
        assert principal is not None
        authorize(principal, op.method, op.resource)
    if op.feature is not None and principal is not None and principal.tenant_id is not None:
        from airflow_platform.api.authn import tenant_service

        if not tenant_service().feature_enabled(principal.tenant_id, op.feature):
            raise PermissionDeniedError(
                f"Tenant {principal.tenant_id!r} does not have the {op.feature!r} feature.",
                details={"tenant_id": principal.tenant_id, "feature": op.feature},
            )
    return principal


def add_rate_limit_headers(response: Response) -> Response:
    for name, value in g.get("platform_rate_headers", {}).items():
        response.headers[name] = value
    return response
