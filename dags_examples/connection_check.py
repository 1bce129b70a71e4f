"""Checks that an Airflow connection works from inside a task.

Trigger it with ``{"conn_id": "warehouse_prod"}``: the task builds the connection's hook the way
any operator would (so it reads the same row the platform API and Airflow's UI show) and fails
unless the hook's own test passes. Handy after creating or rotating a connection.
"""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, BaseHook, get_current_context, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.hooks.base import BaseHook
    from airflow.operators.python import get_current_context

with DAG(
    dag_id="connection_check",
    description="Test an Airflow connection from inside a task (conf: {'conn_id': ...})",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"conn_id": "warehouse_prod"},
    tags=["platform", "connections"],
):

    @task
    def check_connection(params: dict | None = None) -> dict:
        conf = get_current_context()["dag_run"].conf or {}
        conn_id = conf.get("conn_id") or (params or {}).get("conn_id")
        conn = BaseHook.get_connection(conn_id)
        hook = conn.get_hook()
        ok, message = hook.test_connection()
        print(f"connection {conn_id} ({conn.conn_type}) on {conn.host}:{conn.port}: {ok} {message}")
        if not ok:
            raise RuntimeError(f"connection {conn_id} failed: {message}")
        return {"conn_id": conn_id, "conn_type": conn.conn_type, "ok": ok}

    check_connection()
