"""The reference's GraphQL schema: DAGs, runs, task instances, metrics, logs, and its mutations.

Each field asks Airflow's auth manager about the matching Airflow resource (DAG Runs, Task
Instances, Task Logs, Connections) and about the DAG itself (global or per-DAG permission) before
it reads, as Airflow's own API does: permission first, then the lookup, so a DAG behind another
tenant's wall (auth/dag_tenancy) reads exactly like a missing one. Nested lists go through the
request's data loaders, so a page of DAGs with their tags, runs and task instances costs a handful
of queries.
Mutations delegate: DAG actions to Airflow's own code (``compat``), connections to
``ConnectionService`` (tenant walls included).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.scalars import JSON
from strawberry.types import Info

from airflow_platform import compat
from airflow_platform.exceptions import ResourceNotFoundError, ValidationError
from airflow_platform.graphql import data
from airflow_platform.graphql.context import (
    CONNECTIONS,
    DAG_RUNS,
    TASK_INSTANCES,
    TASK_LOGS,
    GraphQLContext,
)

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
MAX_PAGE = 1000

Ctx = Info[GraphQLContext, None]


def _ctx(info: Ctx) -> GraphQLContext:
    return info.context


def _page(limit: int, offset: int = 0) -> None:
    if not 0 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 0 and {MAX_PAGE}.", details={"limit": limit})
    if offset < 0:
        raise ValidationError("offset must not be negative.", details={"offset": offset})


@strawberry.enum(description="A DAG run's state, as Airflow names it.")
class DAGRunState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


@strawberry.enum(description="A task instance's state; NONE: not scheduled yet.")
class TaskState(enum.Enum):
    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    RESTARTING = "restarting"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"
    DEFERRED = "deferred"
    SHUTDOWN = "shutdown"


def _task_state(value: str | None) -> TaskState:
    try:
        return TaskState(value or "none")
    except ValueError:
        return TaskState.NONE


@strawberry.input(description="Which DAGs: every given condition must hold.")
class DAGFilter:
    search: str | None = strawberry.field(default=None, description="Part of the DAG id.")
    is_paused: bool | None = None
    is_active: bool | None = None
    tags: list[str] | None = strawberry.field(default=None, description="DAGs with any of these tags.")


@strawberry.input(description="Which runs: by state and by logical date (inclusive).")
class DAGRunFilter:
    state: list[DAGRunState] | None = None
    execution_date_gte: datetime | None = None
    execution_date_lte: datetime | None = None

    def as_filter(self) -> data.RunFilter:
        return data.RunFilter(
            tuple(s.value for s in self.state or ()), self.execution_date_gte, self.execution_date_lte
        )


def _run_filter(given: DAGRunFilter | None) -> data.RunFilter:
    return given.as_filter() if given is not None else data.RunFilter()


@strawberry.type
class Tag:
    name: str


@strawberry.type
class Task:
    task_id: strawberry.ID
    operator: str | None
    downstream_task_ids: list[str]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool


@strawberry.type(description="Run counts over a date range; rates count finished runs only.")
class Metrics:
    total_runs: int
    successful_runs: int
    failed_runs: int
    average_duration: float | None = strawberry.field(description="Seconds, over runs that ended.")
    success_rate: float | None = strawberry.field(description="successful / (successful + failed), 0..1.")

    @classmethod
    def of(cls, row: data.MetricsRow) -> Metrics:
        return cls(
            total_runs=row.total_runs,
            successful_runs=row.successful_runs,
            failed_runs=row.failed_runs,
            average_duration=row.average_duration,
            success_rate=row.success_rate,
        )


@strawberry.type
class DAGMetrics(Metrics):
    dag_id: strawberry.ID


@strawberry.type
class TaskInstance:
    row: strawberry.Private[data.TaskInstanceRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        r = self.row
        suffix = "" if r.map_index < 0 else f"/{r.map_index}"
        return strawberry.ID(f"{r.dag_id}/{r.run_id}/{r.task_id}{suffix}")

    @strawberry.field
    def task_id(self) -> strawberry.ID:
        return strawberry.ID(self.row.task_id)

    @strawberry.field
    def dag_id(self) -> strawberry.ID:
        return strawberry.ID(self.row.dag_id)

    @strawberry.field
    def run_id(self) -> strawberry.ID:
        return strawberry.ID(self.row.run_id)

    @strawberry.field
    def map_index(self) -> int:
        return self.row.map_index

    @strawberry.field
    def state(self) -> TaskState:
        return _task_state(self.row.state)

    @strawberry.field
    def start_date(self) -> datetime | None:
        return self.row.start_date

    @strawberry.field
    def end_date(self) -> datetime | None:
        return self.row.end_date

    @strawberry.field
    def duration(self) -> float | None:
        return self.row.duration

    @strawberry.field
    def try_number(self) -> int:
        return self.row.try_number

    @strawberry.field
    def max_tries(self) -> int:
        return self.row.max_tries

    @strawberry.field(description="The text of one try's log (default: the latest try).")
    def logs(self, info: Ctx, try_number: int | None = None) -> str | None:
        _ctx(info).authorize_dag(self.row.dag_id, sub_resource=TASK_LOGS)
        number = try_number if try_number is not None else self.row.try_number
        if number < 1:
            return None
        r = self.row
        return compat.read_task_log(r.dag_id, r.run_id, r.task_id, number, r.map_index)


@strawberry.type
class DAGRun:
    row: strawberry.Private[data.RunRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.run_id)

    @strawberry.field
    def dag_id(self) -> strawberry.ID:
        return strawberry.ID(self.row.dag_id)

    @strawberry.field(description="The run's logical date (Airflow 3 runs without one: run_after).")
    def execution_date(self) -> datetime:
        if self.row.logical_date is None:  # Airflow 3's run_after is never null
            raise ValueError(f"run {self.row.run_id!r} has no date")
        return self.row.logical_date

    @strawberry.field
    def state(self) -> DAGRunState:
        return DAGRunState(self.row.state or "queued")

    @strawberry.field
    def start_date(self) -> datetime | None:
        return self.row.start_date

    @strawberry.field
    def end_date(self) -> datetime | None:
        return self.row.end_date

    @strawberry.field(description="Seconds from start to end; null while running.")
    def duration(self) -> float | None:
        return self.row.duration

    @strawberry.field
    def conf(self) -> JSON | None:
        return self.row.conf

    @strawberry.field
    async def task_instances(self, info: Ctx) -> list[TaskInstance]:
        _ctx(info).authorize_dag(self.row.dag_id, sub_resource=TASK_INSTANCES)
        rows = await _ctx(info).loaders.task_instances.load((self.row.dag_id, self.row.run_id))
        return [TaskInstance(row=r) for r in rows]


@strawberry.type
class DAGRunEdge:
    node: DAGRun
    cursor: str


@strawberry.type
class DAGRunConnection:
    edges: list[DAGRunEdge]
    total_count: int
    page_info: PageInfo

    @classmethod
    def of(cls, rows: list[data.RunRow], total: int, offset: int) -> DAGRunConnection:
        edges = [DAGRunEdge(node=DAGRun(row=r), cursor=str(offset + i)) for i, r in enumerate(rows)]
        info = PageInfo(has_next_page=offset + len(rows) < total, has_previous_page=offset > 0)
        return cls(edges=edges, total_count=total, page_info=info)


@strawberry.type(name="DAG")
class DAG:
    row: strawberry.Private[data.DagRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.dag_id)

    @strawberry.field
    def description(self) -> str | None:
        return self.row.description

    @strawberry.field
    def is_paused(self) -> bool:
        return self.row.is_paused

    @strawberry.field
    def is_active(self) -> bool:
        return self.row.is_active

    @strawberry.field
    def schedule_interval(self) -> str | None:
        return self.row.schedule

    @strawberry.field
    def owners(self) -> list[str]:
        return self.row.owners

    @strawberry.field
    async def tags(self, info: Ctx) -> list[Tag]:
        return [Tag(name=n) for n in await _ctx(info).loaders.tags.load(self.row.dag_id)]

    @strawberry.field(description="From the serialized DAG (one read per DAG asked for).")
    def tasks(self) -> list[Task]:
        with compat.orm_session() as session:
            dag = compat.serialized_dag(self.row.dag_id, session)
            if dag is None:
                return []
            return [
                Task(
                    task_id=strawberry.ID(t.task_id),
                    operator=getattr(t, "task_type", None),
                    downstream_task_ids=sorted(t.downstream_task_ids),
                )
                for t in dag.tasks
            ]

    @strawberry.field(description="The newest runs first.")
    async def runs(
        self,
        info: Ctx,
        run_filter: Annotated[DAGRunFilter | None, strawberry.argument(name="filter")] = None,
        limit: int = 10,
    ) -> DAGRunConnection:
        _ctx(info).authorize_dag(self.row.dag_id, sub_resource=DAG_RUNS)
        _page(limit)
        loader = _ctx(info).loaders.runs_of_dag(_run_filter(run_filter), limit)
        rows, total = await loader.load(self.row.dag_id)
        return DAGRunConnection.of(rows, total, 0)

    @strawberry.field
    async def metrics(self, info: Ctx, start_date: datetime, end_date: datetime) -> DAGMetrics:
        _ctx(info).authorize_dag(self.row.dag_id, sub_resource=DAG_RUNS)
        row = await _ctx(info).loaders.metrics(start_date, end_date).load(self.row.dag_id)
        base = Metrics.of(row)
        return DAGMetrics(dag_id=strawberry.ID(self.row.dag_id), **vars(base))


@strawberry.type
class DAGEdge:
    node: DAG
    cursor: str


@strawberry.type
class DAGConnection:
    edges: list[DAGEdge]
    total_count: int
    page_info: PageInfo


@strawberry.type
class Connection:
    id: strawberry.ID
    connection_id: str
    connection_type: str | None
    description: str | None
    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None = strawberry.field(description="'***' when a password is set; never the password.")
    extra: JSON
    tenant_id: str | None

    @classmethod
    def of(cls, c: Any) -> Connection:
        return cls(id=strawberry.ID(c.connection_id), connection_id=c.connection_id,
                   connection_type=c.connection_type, description=c.description, host=c.host, port=c.port,
                   schema=c.schema_, login=c.login, password=c.password, extra=c.extra,
                   tenant_id=c.tenant_id)  # fmt: skip


@strawberry.input
class ConnectionInput:
    connection_id: str
    connection_type: str
    description: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    extra: JSON | None = None
    tenant_id: str | None = strawberry.field(default=None, description="Platform admins only.")


@strawberry.input(description="Fields left out stay as they are; extra merges key by key.")
class ConnectionUpdateInput:
    connection_type: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    host: str | None = strawberry.UNSET
    port: int | None = strawberry.UNSET
    schema: str | None = strawberry.UNSET
    login: str | None = strawberry.UNSET
    password: str | None = strawberry.UNSET
    extra: JSON | None = strawberry.UNSET


def _given(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if v is not strawberry.UNSET}


def _model(model: Any, values: dict[str, Any]) -> Any:
    from pydantic import ValidationError as PydanticValidationError

    from airflow_platform.api.errors import validation_error

    try:
        return model.model_validate(values)
    except PydanticValidationError as e:
        raise validation_error(e, "input") from None


def _connection_service() -> Any:
    from airflow_platform.api.connections import _service

    return _service()


async def _visible(info: Ctx, dag_id: str) -> bool:
    """Whether the DAG exists on this side of the principal's tenant wall (admins: no wall)."""
    if _ctx(info).principal.tenant_id is None:
        return True
    return await _ctx(info).loaders.dags.load(dag_id) is not None


async def _dag(info: Ctx, dag_id: str) -> DAG | None:
    _ctx(info).authorize_dag(dag_id)
    row = await _ctx(info).loaders.dags.load(dag_id)  # walled: another tenant's DAG reads as None
    return DAG(row=row) if row is not None else None


async def _dag_run(info: Ctx, dag_id: str, run_id: str) -> DAGRun | None:
    _ctx(info).authorize_dag(dag_id, sub_resource=DAG_RUNS)
    if not await _visible(info, dag_id):
        return None
    row = await _ctx(info).loaders.runs.load((dag_id, run_id))
    return DAGRun(row=row) if row is not None else None


@strawberry.type
class Query:
    @strawberry.field
    async def dag(self, info: Ctx, id: strawberry.ID) -> DAG | None:
        return await _dag(info, str(id))

    @strawberry.field
    def dags(
        self,
        info: Ctx,
        dag_filter: Annotated[DAGFilter | None, strawberry.argument(name="filter")] = None,
        limit: int = 100,
        offset: int = 0,
    ) -> DAGConnection:
        scope = _ctx(info).dag_scope()
        _page(limit, offset)
        f = dag_filter or DAGFilter()
        rows, total = data.list_dags(f.search, f.is_paused, f.is_active, f.tags, limit, offset, scope)
        loader = _ctx(info).loaders.dags
        for r in rows:  # later dag(id:) fields of this request need no query
            loader.prime(r.dag_id, r)
        edges = [DAGEdge(node=DAG(row=r), cursor=str(offset + i)) for i, r in enumerate(rows)]
        page = PageInfo(has_next_page=offset + len(rows) < total, has_previous_page=offset > 0)
        return DAGConnection(edges=edges, total_count=total, page_info=page)

    @strawberry.field
    async def dag_run(self, info: Ctx, dag_id: strawberry.ID, run_id: strawberry.ID) -> DAGRun | None:
        return await _dag_run(info, str(dag_id), str(run_id))

    @strawberry.field(description="The newest runs first.")
    async def dag_runs(
        self,
        info: Ctx,
        dag_id: strawberry.ID,
        run_filter: Annotated[DAGRunFilter | None, strawberry.argument(name="filter")] = None,
        limit: int = 100,
        offset: int = 0,
    ) -> DAGRunConnection:
        _ctx(info).authorize_dag(str(dag_id), sub_resource=DAG_RUNS)
        _page(limit, offset)
        if not await _visible(info, str(dag_id)):
            return DAGRunConnection.of([], 0, offset)
        rows, total = data.runs_by_dag([str(dag_id)], _run_filter(run_filter), limit, offset)[str(dag_id)]
        return DAGRunConnection.of(rows, total, offset)

    @strawberry.field
    async def task_instance(
        self, info: Ctx, dag_id: strawberry.ID, run_id: strawberry.ID, task_id: strawberry.ID
    ) -> TaskInstance | None:
        _ctx(info).authorize_dag(str(dag_id), sub_resource=TASK_INSTANCES)
        if not await _visible(info, str(dag_id)):
            return None
        rows = await _ctx(info).loaders.task_instances.load((str(dag_id), str(run_id)))
        mine = [r for r in rows if r.task_id == str(task_id)]
        return TaskInstance(row=min(mine, key=lambda r: r.map_index)) if mine else None

    @strawberry.field(
        description="Over runs whose logical date is in [startDate, endDate]; all DAGs by default."
    )
    async def metrics(
        self, info: Ctx, start_date: datetime, end_date: datetime, dag_id: strawberry.ID | None = None
    ) -> Metrics:
        ctx = _ctx(info)
        if dag_id is None:  # every DAG the request may list: this tenant's, readable by the user
            ctx.authorize(DAG_RUNS)
            return Metrics.of(await ctx.loaders.metrics(start_date, end_date, ctx.dag_scope()).load(None))
        ctx.authorize_dag(str(dag_id), sub_resource=DAG_RUNS)
        if not await _visible(info, str(dag_id)):
            return Metrics.of(data.MetricsRow(0, 0, 0, None))
        return Metrics.of(await ctx.loaders.metrics(start_date, end_date).load(str(dag_id)))


async def _require_dag(info: Ctx, dag_id: str) -> None:
    """For a change: the DAG exists on this side of the tenant wall (permissions checked before)."""
    if await _ctx(info).loaders.dags.load(dag_id) is None:
        raise ResourceNotFoundError(f"DAG {dag_id!r} not found.", details={"dag_id": dag_id})


async def _set_paused(info: Ctx, dag_id: str, paused: bool) -> DAG:
    _ctx(info).authorize_dag(dag_id, "PUT")
    await _require_dag(info, dag_id)
    from airflow_platform.storage.airflow_dags import set_paused

    set_paused(dag_id, paused)
    row = data.dags_by_id([dag_id])[dag_id]
    return DAG(row=row)


@strawberry.type
class Mutation:
    @strawberry.mutation(name="triggerDAG", description="A manual run, queued for the scheduler.")
    async def trigger_dag(
        self, info: Ctx, dag_id: strawberry.ID, conf: JSON | None = None, run_id: str | None = None
    ) -> DAGRun:
        _ctx(info).authorize_dag(str(dag_id), "PUT", sub_resource=DAG_RUNS, sub_method="POST")
        if conf is not None and not isinstance(conf, dict):
            raise ValidationError("conf must be a JSON object.", details={"conf": conf})
        await _require_dag(info, str(dag_id))
        made = compat.trigger_dag_run(str(dag_id), run_id, conf, _ctx(info).principal.username)
        row = data.runs_by_key([(str(dag_id), made)])[(str(dag_id), made)]
        return DAGRun(row=row)

    @strawberry.mutation(name="pauseDAG")
    async def pause_dag(self, info: Ctx, dag_id: strawberry.ID) -> DAG:
        return await _set_paused(info, str(dag_id), True)

    @strawberry.mutation(name="unpauseDAG")
    async def unpause_dag(self, info: Ctx, dag_id: strawberry.ID) -> DAG:
        return await _set_paused(info, str(dag_id), False)

    @strawberry.mutation(
        description="Clear one task of one run (its run goes back to queued), as Airflow's clear."
    )
    async def clear_task(
        self, info: Ctx, dag_id: strawberry.ID, run_id: strawberry.ID, task_id: strawberry.ID
    ) -> TaskInstance:
        _ctx(info).authorize_dag(str(dag_id), "PUT", sub_resource=TASK_INSTANCES, sub_method="PUT")
        keys = {"dag_id": str(dag_id), "run_id": str(run_id), "task_id": str(task_id)}
        visible = await _visible(info, str(dag_id))
        if not visible or not compat.clear_task_instance(str(dag_id), str(run_id), str(task_id)):
            raise ResourceNotFoundError(
                f"No task {task_id!r} in run {run_id!r} of DAG {dag_id!r}.", details=keys
            )
        rows = data.task_instances_by_run([(str(dag_id), str(run_id))])[(str(dag_id), str(run_id))]
        mine = [r for r in rows if r.task_id == str(task_id)]
        if not mine:
            raise ResourceNotFoundError(
                f"No task {task_id!r} in run {run_id!r} of DAG {dag_id!r}.", details=keys
            )
        return TaskInstance(row=min(mine, key=lambda r: r.map_index))

    @strawberry.mutation
    def create_connection(self, info: Ctx, input: ConnectionInput) -> Connection:
        from airflow_platform.schemas.connections import ConnectionCreate

        _ctx(info).authorize(CONNECTIONS, "POST")
        _ctx(info).require_connections_feature()
        values = _given(input)
        if values.get("extra") is None:
            values.pop("extra", None)
        body = _model(ConnectionCreate, values)
        return Connection.of(_connection_service().create(_ctx(info).principal, body))

    @strawberry.mutation
    def update_connection(self, info: Ctx, id: strawberry.ID, input: ConnectionUpdateInput) -> Connection:
        from airflow_platform.schemas.connections import ConnectionUpdate

        _ctx(info).authorize(CONNECTIONS, "PATCH")
        _ctx(info).require_connections_feature()
        body = _model(ConnectionUpdate, _given(input))
        return Connection.of(_connection_service().update(_ctx(info).principal, str(id), body))

    @strawberry.mutation
    def delete_connection(self, info: Ctx, id: strawberry.ID) -> bool:
        _ctx(info).authorize(CONNECTIONS, "DELETE")
        _ctx(info).require_connections_feature()
        _connection_service().delete(_ctx(info).principal, str(id))
        return True


def _introspection(context: Any) -> bool:
    """GraphiQL's schema query nests ``ofType`` deeper than any data query: not limited."""
    return str(context.field_name).startswith("__")


def build_schema() -> strawberry.Schema:
    extensions: list[Any] = [  # instances, as Strawberry's docs use them (its hints name classes)
        QueryDepthLimiter(max_depth=MAX_DEPTH, should_ignore=_introspection),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)
