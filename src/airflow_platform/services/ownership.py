"""Which tenant a new object belongs to: one rule for keys, OAuth clients and connections."""

from __future__ import annotations

from collections.abc import Callable

from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import PermissionDeniedError, ValidationError


def owner_for_new(
    principal: Principal, requested: str | None, tenant_exists: Callable[[str], bool], what: str
) -> str | None:
    """The caller's tenant by default; another only for a platform-wide admin, and only if it exists."""
    if requested is None:
        return principal.tenant_id
    if not tenant_exists(requested):
        raise ValidationError(f"No tenant {requested!r}.", details={"tenant_id": requested})
    if principal.is_platform_admin and principal.tenant_id is None:
        return requested
    if requested != principal.tenant_id:
        raise PermissionDeniedError(f"A {what} can only be bound to the tenant you act in.")
    return requested
