"""What Airflow's own tables say about a deployment's DAG (read by the API server, never by tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.storage import db


def _utc_datetime() -> Any:
    # Airflow's own column type: SQLite keeps datetimes as text, and this is how Airflow reads them.
    from airflow.utils.sqlalchemy import UtcDateTime

    return UtcDateTime()


def _dag() -> Any:
    return sa.table(
        "dag", sa.column("dag_id"), sa.column("is_paused", sa.Boolean), sa.column("fileloc"),
        sa.column("next_dagrun_create_after", _utc_datetime()),
    )  # fmt: skip


_import_error = sa.table("import_error", sa.column("filename"), sa.column("stacktrace"))


@dataclass
class DagState:
    present: bool = False
    is_paused: bool | None = None
    next_run: datetime | None = None
    import_error: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)


def dag_state(dag_id: str, factory_file: str, runs: int = 5) -> DagState:
    date = compat.dag_run_date_column()
    dag_run = sa.table(
        "dag_run", sa.column("dag_id"), sa.column("run_id"), sa.column("state"),
        sa.column(date, _utc_datetime()), sa.column("start_date", _utc_datetime()),
        sa.column("end_date", _utc_datetime()), sa.column("id"),
    )  # fmt: skip
    state = DagState()
    _dag_table = _dag()
    with db.reading() as conn:
        row = conn.execute(
            sa.select(_dag_table.c.is_paused, _dag_table.c.next_dagrun_create_after).where(
                _dag_table.c.dag_id == dag_id, compat.dag_active_clause()
            )
        ).first()
        if row is not None:
            state.present = True
            state.is_paused = bool(row.is_paused)
            state.next_run = None if row.is_paused else db.as_utc(row.next_dagrun_create_after)
        # Airflow 3 stores the file relative to its bundle, 2 the absolute path: match the name.
        error = conn.execute(
            sa.select(_import_error.c.stacktrace).where(_import_error.c.filename.like(f"%{factory_file}"))
        ).scalar()
        state.import_error = error.strip().splitlines()[-1][:500] if error else None
        for r in conn.execute(
            sa.select(dag_run).where(dag_run.c.dag_id == dag_id).order_by(dag_run.c.id.desc()).limit(runs)
        ):
            state.runs.append({
                "run_id": r.run_id, "state": r.state, "logical_date": db.as_utc(getattr(r, date)),
                "start_date": db.as_utc(r.start_date), "end_date": db.as_utc(r.end_date),
            })  # fmt: skip
    return state


def set_paused(dag_id: str, paused: bool) -> bool:
    """Pause or unpause a DAG Airflow already knows; False when it does not know it yet."""
    with db.transaction() as conn:
        table = _dag()
        return bool(
            conn.execute(table.update().where(table.c.dag_id == dag_id).values(is_paused=paused)).rowcount
        )
