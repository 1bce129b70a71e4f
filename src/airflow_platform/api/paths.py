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


#: Airflow 2's REST API root: on Airflow 3 the reference's DAG/run/task calls there go to the facade
#: (``api/airflow_v1``); on Airflow 2.11 Airflow itself serves it.
AIRFLOW_V1_PREFIX = "/api/v1"


def is_airflow_v1_path(path: str) -> bool:
    """Under ``/api/v1`` (check :func:`is_platform_path` first: the platform's prefixes live there too)."""
    return path == AIRFLOW_V1_PREFIX or path.startswith(AIRFLOW_V1_PREFIX + "/")
