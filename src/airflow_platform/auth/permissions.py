"""The platform's authorization resources and the grants default Airflow roles get.

Authorization always asks Airflow's auth manager (FAB roles by default), one resource per area;
``Connections`` is Airflow's own resource, so the same FAB permissions govern Airflow's connection
pages and ours. GET reads, POST creates, PATCH/PUT edits, DELETE deletes.
"""

from __future__ import annotations

READ, CREATE, EDIT, DELETE = "can_read", "can_create", "can_edit", "can_delete"
ALL = (READ, CREATE, EDIT, DELETE)

#: Our resources (Airflow's own ``Connections`` is not ours to create or grant).
RESOURCES = (
    "Tenants",
    "API Keys",
    "OAuth Clients",
    "DataKits",
    "Deployments",
    "Analytics",
    "Saved Queries",
    "Webhooks",
)

#: Default grants by Airflow role. Admin gets everything (Airflow also grants Admin every permission).
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Admin": {resource: ALL for resource in RESOURCES},
    "Op": {
        "Tenants": (READ,),
        "API Keys": ALL,
        "OAuth Clients": ALL,
        "DataKits": ALL,
        "Deployments": ALL,
        "Analytics": (READ, CREATE),
        "Saved Queries": ALL,
        "Webhooks": ALL,
    },
    "User": {
        "Tenants": (READ,),
        "API Keys": ALL,
        "OAuth Clients": ALL,
        "DataKits": ALL,
        "Deployments": ALL,
        "Analytics": (READ, CREATE),
        "Saved Queries": ALL,
        "Webhooks": (READ,),
    },
    "Viewer": {
        "Tenants": (READ,),
        "DataKits": (READ,),
        "Deployments": (READ,),
        "Analytics": (READ,),
        "Saved Queries": (READ,),
        "Webhooks": (READ,),
    },
}

_ACTION_OF_METHOD = {"GET": READ, "HEAD": READ, "OPTIONS": READ, "POST": CREATE, "PUT": EDIT, "PATCH": EDIT}


def action_for(method: str) -> str:
    return _ACTION_OF_METHOD.get(method.upper(), DELETE if method.upper() == "DELETE" else READ)
