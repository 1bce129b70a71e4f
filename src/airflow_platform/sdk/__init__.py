"""The Python SDK of the Airflow Platform. Imports pydantic schemas and httpx, never Airflow.

from airflow_platform import PlatformClient

with PlatformClient(base_url="https://airflow.example.com", api_key="afp_...") as client:
    for dag in client.dags.list(tags=["production"]):
        print(dag.dag_id, dag.schedule_interval)
"""

from __future__ import annotations

from airflow_platform.exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    PlatformError,
    RateLimitError,
    ResourceNotFoundError,
    ServerError,
    ServiceUnavailableError,
    UnsupportedFeatureError,
    ValidationError,
)
from airflow_platform.sdk.async_client import AsyncPlatformClient
from airflow_platform.sdk.client import PlatformClient
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, SyncPage
from airflow_platform.sdk.resources.dag_runs import AsyncDagRun, DagRun

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncDagRun",
    "AsyncPage",
    "AsyncPaginator",
    "AsyncPlatformClient",
    "AuthenticationError",
    "ConflictError",
    "DagRun",
    "PermissionDeniedError",
    "PlatformClient",
    "PlatformError",
    "RateLimitError",
    "ResourceNotFoundError",
    "ServerError",
    "ServiceUnavailableError",
    "SyncPage",
    "UnsupportedFeatureError",
    "ValidationError",
]
