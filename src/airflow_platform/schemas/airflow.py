"""Client-side models of Airflow's own REST objects (DAGs, runs, task instances, tasks, backfills).

Airflow 2.11 (``/api/v1``) and Airflow 3 (``/api/v2``) name several things differently. The SDK
promises the API reference's names (``schedule_interval``, ``is_active``, ``execution_date``,
``next_dagrun``…), so each model fills them from the Airflow 3 names when an Airflow 3 server answered,
and the Airflow 3 names from the 2.11 ones, here, once, instead of at every call site. Whatever else a
server sends is kept (``extra="allow"``), so a newer Airflow never breaks an older SDK.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from airflow_platform.schemas.common import RequestModel, WireModel

#: Run states after which a run never changes by itself.
FINISHED_RUN_STATES = frozenset({"success", "failed"})
#: Task instance states after which an attempt never changes by itself.
FINISHED_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

_CRON = re.compile(r"^(@\w+|(\S+\s+){4,6}\S+)$")
_TIMEDELTA = re.compile(r"^(?:(?P<days>-?\d+) days?, )?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<us>\d+))?$")


def _fill(data: dict[str, Any], target: str, source: str, convert: Any = None) -> None:
    """Copy ``source`` to ``target`` when only ``source`` came over the wire."""
    if target not in data and source in data:
        value = data[source]
        data[target] = convert(value) if convert is not None else value


class TimeDelta(WireModel):
    """Airflow's ``{"__type": "TimeDelta", "days", "seconds", "microseconds"}``."""

    type: str = Field(default="TimeDelta", alias="__type")
    days: int = 0
    seconds: int = 0
    microseconds: int = 0

    def as_timedelta(self) -> timedelta:
        return timedelta(days=self.days, seconds=self.seconds, microseconds=self.microseconds)

    def __str__(self) -> str:
        return str(self.as_timedelta())


class ScheduleInterval(WireModel):
    """Airflow 2.11's ``schedule_interval`` object (``CronExpression``, ``TimeDelta`` or
    ``RelativeDelta``); built from ``timetable_summary`` when Airflow 3 answered, where a summary that
    is neither a cron expression nor a time delta becomes ``{"__type": "Timetable", "value": ...}``."""

    type: str = Field(alias="__type")
    value: str | None = None
    days: int | None = None
    seconds: int | None = None
    microseconds: int | None = None

    @classmethod
    def from_summary(cls, summary: str | None) -> ScheduleInterval | None:
        if summary is None or summary == "None":
            return None
        if _CRON.match(summary.strip()):
            return cls.model_validate({"__type": "CronExpression", "value": summary})
        match = _TIMEDELTA.match(summary)
        if match:
            delta = timedelta(
                days=int(match["days"] or 0),
                hours=int(match["h"]),
                minutes=int(match["m"]),
                seconds=int(match["s"]),
                microseconds=int((match["us"] or "0").ljust(6, "0")[:6]),
            )
            return cls.model_validate(
                {
                    "__type": "TimeDelta",
                    "days": delta.days,
                    "seconds": delta.seconds,
                    "microseconds": delta.microseconds,
                }
            )
        return cls.model_validate({"__type": "Timetable", "value": summary})

    def summary(self) -> str:
        """What Airflow 3 calls ``timetable_summary``: the cron expression, or the delta as text."""
        if self.value is not None:
            return self.value
        if self.type == "TimeDelta":
            return str(
                timedelta(days=self.days or 0, seconds=self.seconds or 0, microseconds=self.microseconds or 0)
            )
        extra = {k: v for k, v in (self.model_extra or {}).items() if v}
        return f"{self.type}({', '.join(f'{k}={v}' for k, v in extra.items())})"

    def __str__(self) -> str:
        return self.summary()


def _schedule_summary(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return ScheduleInterval.model_validate(value).summary()
    return str(value)


class Tag(WireModel):
    name: str


class DAG(WireModel):
    """A DAG as ``GET /dags`` lists it, in the reference's names on either Airflow."""

    dag_id: str
    dag_display_name: str | None = None
    description: str | None = None
    fileloc: str | None = None
    file_token: str | None = None
    owners: list[str] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    is_paused: bool | None = None
    is_active: bool | None = Field(default=None, description="Airflow 3: ``not is_stale``.")
    is_stale: bool | None = Field(default=None, description="Airflow 2.11: ``not is_active``.")
    is_subdag: bool = False
    root_dag_id: str | None = None
    has_import_errors: bool | None = None
    has_task_concurrency_limits: bool | None = None
    last_parsed_time: datetime | None = None
    max_active_runs: int | None = None
    max_active_tasks: int | None = None
    schedule_interval: ScheduleInterval | None = Field(
        default=None, description="Airflow 3: built from ``timetable_summary``."
    )
    timetable_summary: str | None = None
    timetable_description: str | None = None
    next_dagrun: datetime | None = Field(default=None, description="Airflow 3: ``next_dagrun_logical_date``.")
    next_dagrun_logical_date: datetime | None = None
    next_dagrun_create_after: datetime | None = Field(
        default=None, description="Airflow 3: ``next_dagrun_run_after``."
    )
    next_dagrun_run_after: datetime | None = None
    next_dagrun_data_interval_start: datetime | None = None
    next_dagrun_data_interval_end: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _both_airflows(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _fill(data, "is_active", "is_stale", lambda stale: None if stale is None else not stale)
        _fill(data, "is_stale", "is_active", lambda active: None if active is None else not active)
        _fill(data, "schedule_interval", "timetable_summary", ScheduleInterval.from_summary)
        _fill(data, "timetable_summary", "schedule_interval", _schedule_summary)
        _fill(data, "next_dagrun", "next_dagrun_logical_date")
        _fill(data, "next_dagrun_logical_date", "next_dagrun")
        _fill(data, "next_dagrun_create_after", "next_dagrun_run_after")
        _fill(data, "next_dagrun_run_after", "next_dagrun_create_after")
        return data

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


class DAGCollection(WireModel):
    dags: list[DAG]
    total_entries: int


class DAGRun(WireModel):
    """A DAG run; ``execution_date`` and ``logical_date`` are the same moment on either Airflow."""

    dag_id: str
    dag_run_id: str
    state: str | None = Field(default=None, description="queued, running, success or failed.")
    run_type: str | None = None
    logical_date: datetime | None = None
    execution_date: datetime | None = Field(default=None, description="Airflow 3: ``logical_date``.")
    start_date: datetime | None = None
    end_date: datetime | None = None
    queued_at: datetime | None = None
    run_after: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    last_scheduling_decision: datetime | None = None
    external_trigger: bool | None = Field(default=None, description="Airflow 3: ``run_type == 'manual'``.")
    conf: dict[str, Any] | None = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _both_airflows(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _fill(data, "execution_date", "logical_date")
        _fill(data, "logical_date", "execution_date")
        if "external_trigger" not in data and "run_type" in data:
            data["external_trigger"] = data["run_type"] == "manual"
        return data

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_RUN_STATES


class DAGRunCollection(WireModel):
    dag_runs: list[DAGRun]
    total_entries: int | None = None


class TaskInstance(WireModel):
    """One try of one task in one run (``map_index`` -1 unless mapped)."""

    task_id: str
    dag_id: str
    dag_run_id: str | None = None
    task_display_name: str | None = None
    map_index: int = -1
    state: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    logical_date: datetime | None = None
    execution_date: datetime | None = Field(default=None, description="Airflow 3: ``logical_date``.")
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    operator: str | None = None
    hostname: str | None = None
    unixname: str | None = None
    pool: str | None = None
    pool_slots: int | None = None
    queue: str | None = None
    priority_weight: int | None = None
    queued_when: datetime | None = None
    pid: int | None = None
    executor: str | None = None
    note: str | None = None
    rendered_fields: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _both_airflows(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _fill(data, "execution_date", "logical_date")
        _fill(data, "logical_date", "execution_date")
        return data

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_TASK_STATES


class TaskInstanceCollection(WireModel):
    task_instances: list[TaskInstance]
    total_entries: int | None = None


class Task(WireModel):
    """A task as the DAG declares it (not one run of it)."""

    task_id: str
    task_display_name: str | None = None
    owner: str | None = None
    operator_name: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    trigger_rule: str | None = None
    depends_on_past: bool | None = None
    wait_for_downstream: bool | None = None
    retries: float | None = None
    retry_delay: TimeDelta | None = None
    retry_exponential_backoff: bool | float | None = None
    pool: str | None = None
    queue: str | None = None
    is_mapped: bool | None = None
    ui_color: str | None = None
    ui_fgcolor: str | None = None
    template_fields: list[str] | None = None
    downstream_task_ids: list[str] = Field(default_factory=list)
    upstream_task_ids: list[str] = Field(
        default_factory=list, description="Neither Airflow sends it: filled from the other tasks."
    )


class TaskCollection(WireModel):
    tasks: list[Task]
    total_entries: int | None = None

    @model_validator(mode="after")
    def _upstream(self) -> TaskCollection:
        """The reference lists ``upstream_task_ids``; Airflow only sends the downstream edges."""
        upstream: dict[str, list[str]] = {task.task_id: [] for task in self.tasks}
        for task in self.tasks:
            for child in task.downstream_task_ids:
                upstream.setdefault(child, []).append(task.task_id)
        for task in self.tasks:
            if not task.upstream_task_ids:
                task.upstream_task_ids = sorted(upstream.get(task.task_id, []))
        return self


class Backfill(WireModel):
    """Airflow 3's backfill (``POST /api/v2/backfills``)."""

    id: int
    dag_id: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any] | None = None
    is_paused: bool | None = None
    reprocess_behavior: str | None = None
    max_active_runs: int | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None


# --- request bodies (validated before they leave the client) -------------------------------------


class DAGRunTrigger(RequestModel):
    """``POST /dags/{dag_id}/dagRuns``. Airflow 3 takes no logical date unless you give one."""

    dag_run_id: str | None = Field(default=None, min_length=1, max_length=250)
    conf: dict[str, Any] | None = None
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    note: str | None = None


class TaskInstancesClear(RequestModel):
    """``POST /dags/{dag_id}/clearTaskInstances``. Unlike Airflow 2.11's defaults (``dry_run`` and
    ``only_failed`` true), clearing named tasks clears them."""

    task_ids: list[str] | None = Field(default=None, min_length=1)
    dag_run_id: str | None = None
    dry_run: bool = False
    only_failed: bool = False
    only_running: bool = False
    include_upstream: bool = False
    include_downstream: bool = False
    reset_dag_runs: bool = True


class BackfillCreate(RequestModel):
    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] | None = None
    reprocess_behavior: Literal["none", "failed", "completed"] = "none"
    max_active_runs: int = Field(default=10, ge=1)
