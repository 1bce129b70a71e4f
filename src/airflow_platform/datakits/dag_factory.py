"""Deployment specs → DAGs. Runs at DAG-parse time, so it reads files only, never the metadata DB.

Airflow's guide to dynamic DAGs: write the data as files beside the DAGs, and use the parsing
context so that a task run builds only its own DAG. A broken spec is logged and skipped: one bad
file must not hide every other deployment.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_platform import spec_dags
from airflow_platform.datakits import files

START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
TASK_ID = "run_datakit"


def _notifier(emails: list[str], subject: str) -> list[Any]:
    if not emails:
        return []
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return [SmtpNotifier(to=emails, subject=subject)]


def build_dag(spec: dict[str, Any]) -> Any:
    """One deployment's DAG: a single DataKitOperator task with the spec's manifest inline."""
    from airflow_platform.compat import dag_class
    from airflow_platform.operators.datakit import DataKitOperator

    manifest = spec["manifest"]
    name, version, env = spec["datakit"], spec["version"], spec["environment"]
    notifications = spec.get("notifications") or {}
    tags = ["datakit", name, env, f"version:{version}"]
    if spec.get("tenant_id"):
        tags.append(f"tenant:{spec['tenant_id']}")
    timeout = spec.get("timeout_seconds")
    dag = dag_class()(
        dag_id=spec["dag_id"],
        schedule=spec.get("schedule"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        description=(manifest.get("description") or f"DataKit {name}")[:200] + f" ({env}, {version})",
        tags=tags,
        is_paused_upon_creation=bool(spec.get("paused", False)),
        default_args={"owner": spec.get("owner") or "platform", "retries": 0},
        doc_md=f"Deployment of DataKit **{name} {version}** in **{env}**, made by airflow-platform. "
        f"Change it through `/api/v1/datakits/{name}/deploy`, not here.",
        on_success_callback=_notifier(notifications.get("on_success", []), f"[{env}] {name} succeeded"),
        on_failure_callback=_notifier(notifications.get("on_failure", []), f"[{env}] {name} failed"),
    )
    DataKitOperator(
        task_id=TASK_ID,
        dag=dag,
        manifest=manifest,
        configuration=spec.get("configuration") or {},
        inputs=spec.get("inputs") or None,
        outputs=spec.get("outputs") or None,
        runtime=spec.get("runtime", "docker"),
        namespace=spec.get("namespace"),
        execution_timeout=timedelta(seconds=timeout) if timeout else None,
        on_retry_callback=_notifier(notifications.get("on_retry", []), f"[{env}] {name} is retrying"),
    )
    return dag


def build_dags(folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every deployment's DAG, by DAG id (only the running task's DAG inside a task run)."""
    return spec_dags.build_dags(files.spec_files(folder), build_dag, files.SPEC_VERSION, "DataKit deployment")
