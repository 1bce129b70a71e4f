"""Rows of Airflow's own run tables, written the way the scheduler and the Execution API write them.

Through Airflow's own table objects (so its column types and defaults apply: UTC datetimes on
SQLite, Airflow 2's pickled ``conf``, Airflow 3's ``run_after`` and ids), in Core batches.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

_counter = itertools.count()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _engine() -> Any:
    from airflow_platform.compat import metadata_engine

    return metadata_engine()


def run_row(
    dag_id: str,
    run_id: str,
    state: str,
    start: datetime | None,
    end: datetime | None,
    conf: dict[str, Any] | None = None,
    run_type: str = "manual",
) -> dict[str, Any]:
    from airflow_platform import compat

    # A distinct logical date per run: (dag_id, logical date) is unique in Airflow.
    logical = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=next(_counter))
    row: dict[str, Any] = {
        "dag_id": dag_id, "run_id": run_id, "state": state, "start_date": start, "end_date": end,
        "conf": conf or {}, "run_type": run_type, compat.dag_run_date_column(): logical,
    }  # fmt: skip
    if compat.is_airflow_3():
        row["run_after"] = logical
    else:
        row["external_trigger"] = run_type == "manual"
    return row


def insert_runs(rows: list[dict[str, Any]]) -> None:
    from airflow_platform import compat

    dag_run = compat.run_tables()[0]
    with _engine().begin() as conn:
        conn.execute(dag_run.insert(), rows)


def finish_runs(dag_id: str, run_ids: list[str], state: str, end: datetime) -> None:
    from airflow_platform import compat

    dag_run = compat.run_tables()[0]
    with _engine().begin() as conn:
        conn.execute(
            dag_run.update()
            .where(dag_run.c.dag_id == dag_id, dag_run.c.run_id.in_(run_ids))
            .values(state=state, end_date=end)
        )


def insert_task(
    dag_id: str,
    run_id: str,
    task_id: str,
    state: str,
    try_number: int,
    start: datetime,
    end: datetime,
    max_tries: int = 0,
    history: bool = False,
) -> None:
    import uuid

    from airflow_platform import compat

    table = compat.run_tables()[2 if history else 1]
    row: dict[str, Any] = {
        "dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": -1, "state": state,
        "try_number": try_number, "max_tries": max_tries, "start_date": start, "end_date": end,
        "pool": "default_pool", "pool_slots": 1,
    }  # fmt: skip
    if compat.is_airflow_3():
        row["task_instance_id" if history else "id"] = uuid.uuid4()
    with _engine().begin() as conn:
        conn.execute(table.insert(), [row])


def tag_dag(dag_id: str, tags: list[str]) -> None:
    """A DAG row with tags (tenant walls and tag filters read ``dag_tag``)."""
    import sqlalchemy as sa
    from airflow.models.dag import DagModel

    from airflow_platform import compat

    dag_tag = compat.run_tables()[3]
    dag = DagModel.__table__
    values: dict[str, Any] = {
        "dag_id": dag_id, "is_paused": False, "max_active_tasks": 16, "max_consecutive_failed_dag_runs": 0,
        "has_task_concurrency_limits": False,
    }  # fmt: skip
    with _engine().begin() as conn:
        if compat.is_airflow_3():
            from airflow.models.dagbundle import DagBundleModel

            bundle = DagBundleModel.__table__
            values["bundle_name"] = "webhook-tests"
            if conn.execute(sa.select(bundle.c.name).where(bundle.c.name == "webhook-tests")).first() is None:
                conn.execute(bundle.insert(), [{"name": "webhook-tests"}])
        if conn.execute(sa.select(dag.c.dag_id).where(dag.c.dag_id == dag_id)).first() is None:
            conn.execute(dag.insert(), [values])
        conn.execute(dag_tag.insert(), [{"dag_id": dag_id, "name": t} for t in tags])
