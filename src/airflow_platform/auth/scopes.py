"""Scopes narrow what a key or token may do below what its user may do.

A scope is ``*`` (everything the user may do), ``<area>:read`` or ``<area>:write`` (write implies
read). The areas are the authorization resources of ``permissions.RESOURCES``.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow_platform.exceptions import ValidationError

AREAS: dict[str, str] = {
    "tenants": "Tenants",
    "connections": "Connections",
    "api_keys": "API Keys",
    "oauth_clients": "OAuth Clients",
    "datakits": "DataKits",
    "deployments": "Deployments",
    "analytics": "Analytics",
    "saved_queries": "Saved Queries",
    "webhooks": "Webhooks",
    "airflow": "Airflow API",  # Airflow's own REST API, called with a platform key
}
AREA_OF_RESOURCE = {resource: area for area, resource in AREAS.items()}
ALL_SCOPES = frozenset({"*"} | {f"{a}:{m}" for a in AREAS for m in ("read", "write")})


def normalize(scopes: Iterable[str] | None) -> list[str]:
    """Validated, de-duplicated and sorted; none given means ``*``."""
    given = sorted(set(scopes or ["*"]))
    unknown = [s for s in given if s not in ALL_SCOPES]
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Use '*' or '<area>:read|write' with area one of "
            f"{', '.join(AREAS)}.",
            details={"unknown_scopes": unknown},
        )
    return given


def allows(scopes: frozenset[str], resource: str, write: bool) -> bool:
    if "*" in scopes:
        return True
    area = AREA_OF_RESOURCE.get(resource)
    if area is None:
        return False
    return f"{area}:write" in scopes or (not write and f"{area}:read" in scopes)


def scope_allows(held: frozenset[str], scope: str) -> bool:
    """Whether holding ``held`` covers ``scope``: '*' covers all, '<area>:write' covers its read."""
    if "*" in held or scope in held:
        return True
    return scope.endswith(":read") and scope.removesuffix(":read") + ":write" in held


def grantable(requested: list[str], held: frozenset[str]) -> list[str]:
    """The part of ``requested`` that ``held`` covers; '*' asks for all of ``held``."""
    granted: set[str] = set()
    for scope in requested:
        if scope == "*":
            granted |= held
        elif scope_allows(held, scope):
            granted.add(scope)
    return sorted(granted)
