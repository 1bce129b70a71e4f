"""The URL prefixes the platform serves inside Airflow's web/API server.

Kept free of imports: the Airflow 3 root middleware reads it on every request.
"""

from __future__ import annotations

API_PREFIX = "/api/v1/platform"

#: Every path under one of these belongs to the platform (DESIGN §3).
PLATFORM_PREFIXES: tuple[str, ...] = (
    API_PREFIX,
    "/api/v1/datakits",
    "/api/v1/analytics",
    "/graphql",
    "/oauth",
)


def is_platform_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PLATFORM_PREFIXES)
