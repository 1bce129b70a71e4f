"""Who makes a request: an Airflow user, the tenant it acts in, and the scopes it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Via = Literal["api_key", "oauth", "airflow_jwt", "basic", "session"]


@dataclass(frozen=True)
class Principal:
    username: str
    #: The auth manager's user object, for asking Airflow what the user may do.
    user: Any = field(repr=False, compare=False)
    #: The tenant the principal acts in; None only for a platform admin acting across all tenants.
    tenant_id: str | None
    scopes: frozenset[str]
    via: Via
    is_platform_admin: bool = False
    #: What rate limits count against: the key or OAuth client, else the user.
    rate_identity: str = ""
    key_id: str | None = None

    def sees_tenant(self, tenant_id: str | None) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id
