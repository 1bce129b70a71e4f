"""Reads of Airflow's own tables for GraphQL, batched: each function takes many keys at once so a
page of DAGs costs one query per field, not one per DAG (the data loaders call these).

Runs in the web tier, where Airflow allows the ORM. Columns come from Airflow's models (through
``compat``), so Airflow's column types decode the values (UTC datetimes on SQLite, Airflow 2's
pickled run ``conf``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.auth.dag_tenancy import visible_dags_clause
from airflow_platform.storage import db

MAX_KEYS = 1000  # keys per IN (...) list: below every database's bound-parameter limit


@dataclass(frozen=True)
class DagRow:
    dag_id: str
    description: str | None
    is_paused: bool
    is_active: bool
    schedule: str | None
    owners: list[str]


@dataclass(frozen=True)
class RunRow:
    dag_id: str
    run_id: str
    logical_date: datetime | None
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    conf: Any

    @property
    def duration(self) -> float | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


@dataclass(frozen=True)
class TaskInstanceRow:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    try_number: int
    max_tries: int


@dataclass(frozen=True)
class MetricsRow:
    total_runs: int
    successful_runs: int
    failed_runs: int
    average_duration: float | None

    @property
    def success_rate(self) -> float | None:
        """Successful runs over finished (successful + failed) runs, 0..1; None when none finished."""
        finished = self.successful_runs + self.failed_runs
        return None if finished == 0 else self.successful_runs / finished


@dataclass(frozen=True)
class DagScope:
    """The DAGs a request may list: a tenant's wall and the DAG ids Airflow lets the user read.

    ``tenant_id`` None: no wall (a platform admin across tenants); ``dag_ids`` None: every DAG (the
    global DAG permission), so no id list is sent to the database.
    """

    tenant_id: str | None = None
    dag_ids: frozenset[str] | None = None

    def clauses(self, dag_id: Any) -> list[Any]:
        where: list[Any] = []
        wall = visible_dags_clause(self.tenant_id, dag_id, compat.airflow_models()[3])
        if wall is not None:
            where.append(wall)
        if self.dag_ids is not None:  # one IN list, as Airflow's own DAG list does with readable ids
            where.append(dag_id.in_(sorted(self.dag_ids)))
        return where


EVERY_DAG = DagScope()


def _chunks(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), MAX_KEYS):
        yield keys[start : start + MAX_KEYS]


def _dag_columns() -> list[Any]:
    dag = compat.airflow_models()[0]
    active = sa.not_(dag.is_stale) if compat.is_airflow_3() else dag.is_active
    return [
        dag.dag_id, dag.description, dag.is_paused, active.label("active"),
        compat.dag_schedule_column().label("schedule"), dag.owners,
    ]  # fmt: skip


def _dag_row(r: Any) -> DagRow:
    owners = [o.strip() for o in (r.owners or "").split(",") if o.strip()]
    return DagRow(r.dag_id, r.description, bool(r.is_paused), bool(r.active),
                  None if r.schedule is None else str(r.schedule), owners)  # fmt: skip


def list_dags(
    search: str | None, is_paused: bool | None, is_active: bool | None, tags: list[str] | None,
    limit: int, offset: int, scope: DagScope = EVERY_DAG,
) -> tuple[list[DagRow], int]:  # fmt: skip
    dag, _, _, dag_tag = compat.airflow_models()
    where: list[Any] = scope.clauses(dag.dag_id)
    if search:
        where.append(dag.dag_id.contains(search, autoescape=True))
    if is_paused is not None:
        where.append(dag.is_paused.is_(is_paused))
    if is_active is not None:
        active = sa.not_(dag.is_stale) if compat.is_airflow_3() else dag.is_active
        where.append(active if is_active else sa.not_(active))
    if tags:
        where.append(dag.dag_id.in_(sa.select(dag_tag.dag_id).where(dag_tag.name.in_(tags))))
    with db.reading() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(dag).where(*where)).scalar_one()
        rows = conn.execute(
            sa.select(*_dag_columns()).where(*where).order_by(dag.dag_id).limit(limit).offset(offset)
        ).all()
    return [_dag_row(r) for r in rows], int(total)


def dags_by_id(dag_ids: Sequence[str], scope: DagScope = EVERY_DAG) -> dict[str, DagRow]:
    """The DAGs with these ids that ``scope`` lets through (the others read as missing)."""
    dag = compat.airflow_models()[0]
    found: dict[str, DagRow] = {}
    where = scope.clauses(dag.dag_id)
    with db.reading() as conn:
        for chunk in _chunks(list(dag_ids)):
            for r in conn.execute(sa.select(*_dag_columns()).where(dag.dag_id.in_(chunk), *where)):
                found[r.dag_id] = _dag_row(r)
    return found


def tags_by_dag(dag_ids: Sequence[str]) -> dict[str, list[str]]:
    dag_tag = compat.airflow_models()[3]
    found: dict[str, list[str]] = defaultdict(list)
    with db.reading() as conn:
        for chunk in _chunks(list(dag_ids)):
            query = sa.select(dag_tag.dag_id, dag_tag.name).where(dag_tag.dag_id.in_(chunk))
            for r in conn.execute(query.order_by(dag_tag.dag_id, dag_tag.name)):
                found[r.dag_id].append(r.name)
    return found


def _run_columns() -> list[Any]:
    run = compat.airflow_models()[1]
    return [
        run.dag_id, run.run_id, compat.dag_run_logical_date().label("logical_date"), run.state,
        run.start_date, run.end_date, run.conf,
    ]  # fmt: skip


def _run_row(r: Any) -> RunRow:
    return RunRow(r.dag_id, r.run_id, db.as_utc(r.logical_date), r.state, db.as_utc(r.start_date),
                  db.as_utc(r.end_date), r.conf)  # fmt: skip


@dataclass(frozen=True)
class RunFilter:
    states: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None

    def clauses(self) -> list[Any]:
        run = compat.airflow_models()[1]
        date = compat.dag_run_logical_date()
        where: list[Any] = []
        if self.states:
            where.append(run.state.in_(self.states))
        if self.date_from is not None:
            where.append(date >= self.date_from)
        if self.date_to is not None:
            where.append(date <= self.date_to)
        return where


def runs_by_dag(
    dag_ids: Sequence[str], run_filter: RunFilter, limit: int, offset: int = 0
) -> dict[str, tuple[list[RunRow], int]]:
    """The newest ``limit`` runs of each DAG (one windowed query) and each DAG's matching total."""
    run = compat.airflow_models()[1]
    found: dict[str, tuple[list[RunRow], int]] = {d: ([], 0) for d in dag_ids}
    where = run_filter.clauses()
    with db.reading() as conn:
        for chunk in _chunks(list(dag_ids)):
            totals: dict[str, int] = dict(
                conn.execute(
                    sa.select(run.dag_id, sa.func.count()).where(run.dag_id.in_(chunk), *where)
                    .group_by(run.dag_id)
                ).all()
            )  # fmt: skip
            position = sa.func.row_number().over(partition_by=run.dag_id, order_by=run.id.desc())
            ranked = sa.select(*_run_columns(), position.label("position")).where(
                run.dag_id.in_(chunk), *where
            )
            sub = ranked.subquery()
            rows = conn.execute(
                sa.select(sub).where(sub.c.position > offset, sub.c.position <= offset + limit)
                .order_by(sub.c.dag_id, sub.c.position)
            ).all()  # fmt: skip
            for dag_id in chunk:
                found[dag_id] = ([], int(totals.get(dag_id, 0)))
            for r in rows:
                found[r.dag_id][0].append(_run_row(r))
    return found


def runs_by_key(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RunRow]:
    run = compat.airflow_models()[1]
    found: dict[tuple[str, str], RunRow] = {}
    wanted = set(keys)
    with db.reading() as conn:
        for chunk in _chunks(list(wanted)):
            dag_ids = {k[0] for k in chunk}
            run_ids = {k[1] for k in chunk}
            query = sa.select(*_run_columns()).where(run.dag_id.in_(dag_ids), run.run_id.in_(run_ids))
            for r in conn.execute(query):
                if (r.dag_id, r.run_id) in wanted:
                    found[(r.dag_id, r.run_id)] = _run_row(r)
    return found


def task_instances_by_run(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[TaskInstanceRow]]:
    ti = compat.airflow_models()[2]
    found: dict[tuple[str, str], list[TaskInstanceRow]] = defaultdict(list)
    wanted = set(keys)
    columns = [ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state, ti.start_date, ti.end_date,
               ti.duration, ti.try_number, ti.max_tries]  # fmt: skip
    with db.reading() as conn:
        for chunk in _chunks(list(wanted)):
            query = sa.select(*columns).where(
                ti.dag_id.in_({k[0] for k in chunk}), ti.run_id.in_({k[1] for k in chunk})
            )
            for r in conn.execute(query.order_by(ti.start_date, ti.task_id, ti.map_index)):
                if (r.dag_id, r.run_id) in wanted:
                    found[(r.dag_id, r.run_id)].append(
                        TaskInstanceRow(
                            r.dag_id,
                            r.run_id,
                            r.task_id,
                            r.map_index,
                            r.state,
                            db.as_utc(r.start_date),
                            db.as_utc(r.end_date),
                            r.duration,
                            int(r.try_number or 0),
                            int(r.max_tries or 0),
                        )
                    )
    return found


def _seconds_between(dialect: str, start: Any, end: Any) -> Any:
    """``end - start`` in seconds, in SQL (each database spells it its own way)."""
    if dialect == "sqlite":
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    if dialect == "postgresql":
        return sa.extract("epoch", end - start)
    if dialect in ("mysql", "mariadb"):
        return sa.func.timestampdiff(sa.text("MICROSECOND"), start, end) / 1_000_000.0
    raise NotImplementedError(f"run durations on {dialect}")


def metrics_by_dag(
    dag_ids: Sequence[str | None], start: datetime, end: datetime, everything: DagScope = EVERY_DAG
) -> dict[str | None, MetricsRow]:
    """Run counts and mean duration per DAG (key None: every DAG of ``everything``) over runs dated
    in [start, end], computed by the database in one grouped query."""
    run = compat.airflow_models()[1]
    date = compat.dag_run_logical_date()
    found: dict[str | None, MetricsRow] = {}
    with db.reading() as conn:
        seconds = _seconds_between(conn.dialect.name, run.start_date, run.end_date)
        aggregates = [
            sa.func.count().label("total"),
            sa.func.sum(sa.case((run.state == "success", 1), else_=0)).label("ok"),
            sa.func.sum(sa.case((run.state == "failed", 1), else_=0)).label("failed"),
            sa.func.avg(sa.case((run.end_date.is_not(None) & run.start_date.is_not(None), seconds))).label(
                "avg"
            ),
        ]
        in_range = [date >= start, date <= end]
        named = [d for d in dag_ids if d is not None]
        if None in dag_ids:
            r = conn.execute(sa.select(*aggregates).where(*in_range, *everything.clauses(run.dag_id))).one()
            found[None] = MetricsRow(int(r.total), int(r.ok or 0), int(r.failed or 0), _float(r.avg))
        for chunk in _chunks(named):
            rows = conn.execute(
                sa.select(run.dag_id, *aggregates)
                .where(run.dag_id.in_(chunk), *in_range)
                .group_by(run.dag_id)
            ).all()
            for r in rows:
                found[r.dag_id] = MetricsRow(int(r.total), int(r.ok or 0), int(r.failed or 0), _float(r.avg))
    for dag_id in named:
        found.setdefault(dag_id, MetricsRow(0, 0, 0, None))
    return found


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
