"""Export specs → DAGs. Runs at DAG-parse time, so it reads files only, never the metadata DB.

One DAG per scheduled saved query, ``saved_query__<id>``, with one task (``export``) that runs
the query and writes the file. A task run builds only its own DAG (the parsing context); a broken
spec is logged and skipped so it cannot hide the others.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from airflow_platform.exports import specs

log = logging.getLogger(__name__)

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


def read_spec(path: Path) -> dict[str, Any] | None:
    try:
        spec: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        log.error("Skipping saved-query export spec %s: %s", path, e)
        return None
    if spec.get("spec_version") != specs.SPEC_VERSION or spec.get("dag_id") != path.stem:
        log.error(
            "Skipping saved-query export spec %s: not a version-%s spec for that DAG",
            path,
            specs.SPEC_VERSION,
        )
        return None
    return spec


def build_dags(folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every scheduled saved query's DAG, by DAG id (only the running task's DAG inside a task run)."""
    from airflow_platform.compat import get_parsing_context

    wanted = get_parsing_context().dag_id
    dags: dict[str, Any] = {}
    for path in specs.spec_files(folder):
        if wanted is not None and path.stem != wanted:
            continue
        spec = read_spec(path)
        if spec is None:
            continue
        try:
            dags[spec["dag_id"]] = build_dag(spec)
        except Exception:  # one bad spec must not hide the others
            log.exception("Skipping saved-query export spec %s: it does not build a DAG", path)
    return dags
