"""Export specs → DAGs. Runs at DAG-parse time, so it reads files only, never the metadata DB.

One DAG per scheduled saved query, ``saved_query__<id>``, with one task (``export``) that runs
the query and writes the file. A task run builds only its own DAG (the parsing context); a broken
spec is logged and skipped so it cannot hide the others.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_platform import spec_dags
from airflow_platform.exports import specs

START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
TASK_ID = "export"


def build_dag(spec: dict[str, Any]) -> Any:
    from airflow_platform.compat import dag_class
    from airflow_platform.operators.saved_query_export import SavedQueryExportOperator

    tags = ["saved-query", "export", str(spec.get("output_format") or "csv")]
    if spec.get("tenant_id"):
        tags.append(f"tenant:{spec['tenant_id']}")
    dag = dag_class()(
        dag_id=spec["dag_id"],
        schedule=spec["schedule"],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        description=f"Export of saved query {spec['name']}"[:200],
        tags=tags,
        is_paused_upon_creation=False,
        default_args={
            "owner": spec.get("owner") or "platform",
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
        },
        doc_md=f"Scheduled export of saved query **{spec['name']}** (`{spec['saved_query_id']}`) to "
        f"`{spec['destination']}`, made by airflow-platform. Change it through "
        f"`/api/v1/analytics/saved-queries/{spec['saved_query_id']}`, not here.",
    )
    SavedQueryExportOperator(task_id=TASK_ID, dag=dag, spec=spec)
    return dag


def build_dags(folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every scheduled saved query's DAG, by DAG id (only the running task's DAG inside a task run)."""
    return spec_dags.build_dags(specs.spec_files(folder), build_dag, specs.SPEC_VERSION, "saved-query export")
