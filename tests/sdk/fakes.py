"""Answers a platform server gives, for respx-mocked unit tests of the SDK and the CLI."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx

BASE = "http://platform.test"
HEALTH = "/api/v1/platform/health"


def health_body(airflow_version: str = "3.3.2") -> dict[str, Any]:
    return {
        "status": "healthy",
        "version": "0.1.0",
        "airflow_version": airflow_version,
        "metadata_db": {"status": "healthy", "dialect": "sqlite"},
        "warehouse": {"status": "healthy", "engine": "duckdb"},
    }


def envelope(
    code: str, message: str, status: int, request_id: str = "req_server", **details: Any
) -> httpx.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": request_id,
            "timestamp": "2024-01-15T10:30:00Z",
        }
    }
    return httpx.Response(status, json=body)


def dag_v1(dag_id: str, **extra: Any) -> dict[str, Any]:
    """An Airflow 2.11 ``/api/v1/dags`` item."""
    return {
        "dag_id": dag_id,
        "description": f"{dag_id} pipeline",
        "is_active": True,
        "is_paused": False,
        "is_subdag": False,
        "root_dag_id": None,
        "fileloc": f"/dags/{dag_id}.py",
        "owners": ["data-team"],
        "schedule_interval": {"__type": "CronExpression", "value": "0 0 * * *"},
        "next_dagrun": "2024-01-16T00:00:00+00:00",
        "next_dagrun_create_after": "2024-01-17T00:00:00+00:00",
        "tags": [{"name": "production"}],
        "max_active_runs": 1,
        "max_active_tasks": 16,
        **extra,
    }


def dag_v2(dag_id: str, **extra: Any) -> dict[str, Any]:
    """An Airflow 3 ``/api/v2/dags`` item."""
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "description": f"{dag_id} pipeline",
        "is_paused": False,
        "is_stale": False,
        "fileloc": f"/dags/{dag_id}.py",
        "bundle_name": "dags-folder",
        "owners": ["data-team"],
        "timetable_summary": "0 0 * * *",
        "timetable_description": "At 00:00",
        "next_dagrun_logical_date": "2024-01-16T00:00:00Z",
        "next_dagrun_run_after": "2024-01-17T00:00:00Z",
        "tags": [{"name": "production", "dag_id": dag_id, "dag_display_name": dag_id}],
        "max_active_runs": 1,
        "max_active_tasks": 16,
        **extra,
    }


def run_v1(dag_id: str, run_id: str, state: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "state": state,
        "run_type": "manual",
        "execution_date": "2024-01-15T00:00:00+00:00",
        "logical_date": "2024-01-15T00:00:00+00:00",
        "external_trigger": True,
        "conf": {},
        **extra,
    }


def run_v2(dag_id: str, run_id: str, state: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "state": state,
        "run_type": "manual",
        "logical_date": "2024-01-15T00:00:00Z",
        "run_after": "2024-01-15T00:00:00Z",
        "triggered_by": "rest_api",
        "conf": {},
        "dag_versions": [],
        **extra,
    }


def ti(dag_id: str, run_id: str, task_id: str, state: str | None = "success", **extra: Any) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "task_id": task_id,
        "state": state,
        "try_number": 1,
        "map_index": -1,
        "duration": 1.5,
        "logical_date": "2024-01-15T00:00:00Z",
        **extra,
    }


def paged(items: list[dict[str, Any]], key: str) -> Any:
    """A respx side effect that pages ``items`` by ``limit``/``offset`` like the servers do."""

    def answer(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", 100))
        offset = int(request.url.params.get("offset", 0))
        return httpx.Response(200, json={key: items[offset : offset + limit], "total_entries": len(items)})

    return answer


def jwt(lifetime: float = 3600) -> str:
    """An unsigned JWT with an ``exp`` claim (the SDK reads ``exp``; the server verifies)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'sub': 'alice', 'exp': int(time.time() + lifetime)})}.sig"


def tenant(tenant_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "display_name": tenant_id.title(),
        "namespace": tenant_id,
        "resource_limits": {},
        "features": {},
        "admin_users": [],
        "metadata": {},
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
    }


def api_key(key_id: str = "key_1", **extra: Any) -> dict[str, Any]:
    return {
        "id": key_id,
        "name": "ci",
        "prefix": "afp_abcdefgh",
        "user": "alice",
        "tenant_id": "team-a",
        "scopes": ["*"],
        "created_by": "alice",
        "created_at": "2024-01-15T10:30:00Z",
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
        "status": "active",
        **extra,
    }


def datakit(name: str = "customer-etl", version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    """A ``GET /api/v1/datakits/{name}`` answer."""
    return {
        "id": name,
        "name": name,
        "version": version,
        "latest_version": version,
        "description": "",
        "image": f"registry.localhost/datakits/{name}:{version}",
        "type": "transformation",
        "inputs": [{"name": "customers", "type": "table", "schema": "bronze"}],
        "outputs": [{"name": "dim_customer", "type": "table", "schema": "silver"}],
        "configuration": {"batch_size": {"type": "integer", "default": 1000}},
        "requirements": {"cpu": None, "memory": None, "gpu": False, "network": False},
        "tags": ["customer"],
        "tenant_id": "team-a",
        "created_by": "alice",
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
        "versions": [
            {
                "version": version,
                "image": f"registry.localhost/datakits/{name}:{version}",
                "digest": "ab" * 32,
                "created_by": "alice",
                "created_at": "2024-01-15T10:30:00Z",
                "deployments": [],
            }
        ],
        **extra,
    }


def deployment(
    name: str = "customer-etl", environment: str = "production", version: str = "1.0.0", **extra: Any
) -> dict[str, Any]:
    dag_id = f"datakit__{name}__{environment}"
    return {
        "id": dag_id,
        "dag_id": dag_id,
        "datakit": name,
        "version": version,
        "environment": environment,
        "configuration": {"batch_size": 1000},
        "schedule": "0 2 * * *",
        "notifications": {"on_success": [], "on_failure": [], "on_retry": []},
        "runtime": "docker",
        "paused": False,
        "tenant_id": "team-a",
        "created_by": "alice",
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
        **extra,
    }


def deployment_status(status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        **deployment(),
        "status": status,
        "dag_present": status != "pending",
        "is_paused": False if status != "pending" else None,
        "last_runs": [
            {"run_id": "scheduled__1", "state": "failed", "logical_date": "2024-01-14T02:00:00Z"},
            {"run_id": "scheduled__2", "state": "success", "logical_date": "2024-01-15T02:00:00Z"},
        ]
        if status != "pending"
        else [],
        "next_run": "2024-01-16T02:00:00Z" if status != "pending" else None,
        "history": [],
        **extra,
    }


def query_result(
    query_id: str = "q_123456789",
    status: str = "completed",
    data: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``POST /api/v1/analytics/query`` (or ``GET …/{query_id}``) answer."""
    rows = (
        [{"customer_segment": "Diamond", "customer_count": 127, "avg_ltv": 15234.56}]
        if data is None and status == "completed"
        else data
    )
    return {
        "query_id": query_id,
        "status": status,
        "rows_returned": len(rows) if rows is not None else None,
        "execution_time_ms": 245,
        "data": rows,
        "columns": [
            {"name": "customer_segment", "type": "VARCHAR"},
            {"name": "customer_count", "type": "BIGINT"},
            {"name": "avg_ltv", "type": "DOUBLE"},
        ]
        if rows is not None
        else None,
        "metadata": {
            "database": "warehouse",
            "schema": "gold",
            "tables_accessed": ["dim_customer"],
            "bytes_scanned": 1048576,
            "cache_hit": False,
        },
        "error": None,
        "query": "SELECT 1",
        "parameters": {},
        "submitted_at": "2024-01-15T10:30:00Z",
        "submitted_by": "alice",
        "tenant_id": "team-a",
        "result_available": status == "completed",
        **extra,
    }
