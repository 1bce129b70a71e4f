"""Analytics queries: execute (with a short wait), status with paged rows, cancel, history.

`AnalyticsService.run_query` is the one entry point for "run this SQL with these parameters for
this principal": the HTTP execute call uses it, and so will saved queries and scheduled exports.

What a query goes through, in order:
1. the limit and timeout against `[platform]` caps;
2. the engine its `database` names: the warehouse, or an Airflow connection the principal's
   tenant can see (the connections service's rules; another tenant's connection is a 404);
3. the read-only guard in that engine's dialect, with the tenant's warehouse schemas;
4. the parameters, typed and bound as values;
5. the result cache (warehouse and DuckDB files only: keyed by database, the file's data version,
   the normalised SQL, the parameters and the limit);
6. the runner (`analytics.runner`), which writes the rows to the results store.

Tenants and the warehouse: a principal acting in a tenant reads the schemas in the tenant's
`metadata.warehouse_schemas` (comma-separated), else `[platform] analytics_shared_schemas`
(bronze, silver, gold); tables must be schema-qualified then. Platform admins acting across
tenants read every schema. A tenant's `resource_limits.cpu` caps its concurrent queries per
server process (ceil of the cores), and `resource_limits.memory` caps the size of one result held
by the server. DuckDB's own memory and thread caps are per database instance, so they come from
`[platform] analytics_memory_limit` / `analytics_threads` for every tenant alike.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from airflow_platform.analytics.duckdb_engine import QueryCancelledError
from airflow_platform.analytics.engines import (
    SQL_DIALECTS,
    WAREHOUSE,
    DuckDBEngine,
    Engine,
    EngineRun,
    SQLConnectionEngine,
    WarehouseSettings,
    checked,
    duckdb_engine_for,
)
from airflow_platform.analytics.parameters import bind_values, canonical, to_wire
from airflow_platform.analytics.results import ResultReader, ResultStore, StreamedResult
from airflow_platform.analytics.runner import DeferredResult, Job, Runner, utcnow
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import (
    PermissionDeniedError,
    PlatformError,
    RateLimitError,
    ResourceNotFoundError,
    ServerError,
    ValidationError,
)
from airflow_platform.schemas.analytics import (
    FINAL_STATUSES,
    QueryError,
    QueryHistory,
    QueryHistoryItem,
    QueryHistoryQuery,
    QueryMetadata,
    QueryRequest,
    QueryResult,
    ResultColumn,
)
from airflow_platform.storage import db
from airflow_platform.storage.analytics_queries import QueryRepository

if TYPE_CHECKING:
    from airflow_platform.analytics.guard import ReadOnlyQuery

__all__ = ["AnalyticsService", "AnalyticsSettings", "Execution", "TenantRules"]

#: A running query whose process has not said it is alive for this long is reported failed.
STALE_AFTER = timedelta(seconds=60)
#: How long a cancel call waits for the query to stop before it answers.
CANCEL_WAIT_S = 2.0
SWEEP_EVERY_S = 600.0
#: A stored result this small is answered from memory rather than read back from its file.
SMALL_RESULT_BYTES = 1 << 20
#: A streamed answer starts once this much of the result is there (smaller results are answered
#: whole, with their row count), and lets the query run at most this far ahead of the client
#: (also while it is being decided whether to stream)...
STREAM_AFTER_BYTES = 2 << 20
STREAM_BUFFER_BYTES = 64 << 20
#: ... and once the query has gone on this long after that (a quick one is answered whole).
STREAM_GRACE_S = 0.25


@dataclass(frozen=True)
class AnalyticsSettings:
    warehouse_path: str
    results_path: str
    warehouse: WarehouseSettings
    max_rows: int = 5_000_000
    max_timeout_s: float = 600.0
    sync_wait_s: float = 5.0
    max_concurrent: int = 8
    cache_ttl_s: int = 300
    result_ttl_s: int = 86_400
    shared_schemas: frozenset[str] = frozenset({"bronze", "silver", "gold"})
    #: Database files a connection may never point at (the metadata DB).
    forbidden_files: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TenantRules:
    schemas: frozenset[str] | None = None
    max_concurrent: int | None = None
    max_result_bytes: int | None = None


@dataclass
class Execution:
    """A query's document, and its rows when they are there to be read."""

    result: QueryResult
    reader: ResultReader | None = None
    #: The rows as an Arrow IPC stream while the query still produces them (`run_query(stream=)`).
    stream: StreamedResult | None = None

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.stream is not None:
            self.stream.abandon()


@dataclass(frozen=True)
class _Target:
    engine: Engine
    database: str
    #: Whether the tenant's warehouse-schema rules apply (the warehouse file, by any name).
    schema_wall: bool


# -- process-wide pieces ---------------------------------------------------------------------

_runners: dict[tuple[int, int], Runner] = {}
_runners_lock = threading.Lock()
_last_sweep = [0.0]


def _runner(repository: QueryRepository, max_workers: int) -> Runner:
    """One runner per process (a fork gets its own) and pool size."""
    key = (os.getpid(), max_workers)
    with _runners_lock:
        runner = _runners.get(key)
        if runner is None:
            runner = _runners[key] = Runner(repository, max_workers)
        return runner


def new_query_id() -> str:
    return f"q_{secrets.token_hex(12)}"


class AnalyticsService:
    def __init__(
        self,
        settings: AnalyticsSettings,
        *,
        tenant_rules: Callable[[Principal], TenantRules],
        feature_enabled: Callable[[str, str], bool],
        find_connection: Callable[[Principal, str], Any],
        repository: QueryRepository | None = None,
    ) -> None:
        self.settings = settings
        self.tenant_rules = tenant_rules
        self.feature_enabled = feature_enabled
        #: (principal, conn_id) -> Airflow's Connection object; a 404 when the principal cannot see it.
        self.find_connection = find_connection
        self.repository = repository or QueryRepository()
        self.store = ResultStore(settings.results_path)
        #: Results being streamed, by query id, until their query's finisher commits them.
        self._streams: dict[str, StreamedResult] = {}
        self.runner = _runner(self.repository, settings.max_concurrent)

    # -- execute ----------------------------------------------------------------------------

    def execute(self, principal: Principal, body: QueryRequest, *, stream: bool = False) -> Execution:
        return self.run_query(
            principal,
            body.query,
            body.parameters,
            database=body.database,
            limit=body.limit,
            timeout_s=body.timeout_seconds,
            run_async=body.run_async,
            stream=stream,
        )

    def run_query(
        self,
        principal: Principal,
        sql: str,
        parameters: Mapping[str, Any],
        *,
        database: str = WAREHOUSE,
        limit: int = 1000,
        timeout_s: float = 30.0,
        run_async: bool = False,
        wait_s: float | None = None,
        stream: bool = False,
    ) -> Execution:
        """Run `sql` with `parameters` for `principal`, answering within `wait_s` (default: the
        configured sync wait; 0 with `run_async`).

        Returns the document: `completed` (with a reader of the rows), or `queued`/`running`
        (poll `get`). A query refused before it runs raises its 4xx; one that fails within the
        wait raises its error too, with `query_id` in the details (the failure is in the history).
        `parameters` may be plain JSON values or `{"type", "value"}` objects (`analytics.parameters`).
        With `stream`, a large DuckDB result may come back while the query still runs: `running`,
        with `Execution.stream` giving the Arrow IPC stream as DuckDB produces it (also written to
        the result file); the query's row says completed once the file is in place.
        """
        if limit > self.settings.max_rows:
            raise ValidationError(
                f"limit may be at most {self.settings.max_rows}",
                details={"reason": "limit", "max_rows": self.settings.max_rows},
            )
        if timeout_s > self.settings.max_timeout_s:
            raise ValidationError(
                f"timeout_seconds may be at most {self.settings.max_timeout_s:g}",
                details={"reason": "timeout", "max_timeout_seconds": self.settings.max_timeout_s},
            )
        target = self._target(principal, database)
        rules = self.tenant_rules(principal)
        query = checked(sql, target.engine.dialect, rules.schemas if target.schema_wall else None)
        values = bind_values(parameters)
        _require_parameters(query, values)

        now = utcnow()
        query_id = new_query_id()
        schema, tables = _display_tables(query)
        row: dict[str, Any] = {
            "query_id": query_id,
            "tenant_id": principal.tenant_id,
            "username": principal.username,
            "database": target.database,
            "query_text": sql,
            "parameters": to_wire(parameters),
            "row_limit": limit,
            "timeout_seconds": float(timeout_s),
            "status": "queued",
            "submitted_at": now,
            "truncated": False,
            "schema_name": schema,
            "tables_accessed": tables,
            "cache_hit": False,
            "cancel_requested": False,
        }
        cache_key = self._cache_key(target, query, values, limit)
        row["cache_key"] = cache_key
        self._maybe_sweep()
        if cache_key is not None:
            hit = self._from_cache(row, cache_key)
            if hit is not None:
                return hit
        if (
            rules.max_concurrent is not None
            and self.runner.active(principal.tenant_id) >= rules.max_concurrent
        ):
            raise RateLimitError(
                f"Tenant {principal.tenant_id!r} may run {rules.max_concurrent} queries at once "
                "(its cpu limit); wait for one to finish",
                retry_after=1,
                details={"reason": "concurrency", "limit": rules.max_concurrent},
                headers={"Retry-After": "1"},
            )

        job = Job(
            query_id=query_id,
            engine=target.engine,
            query=query,
            values=values,
            limit=limit,
            timeout_s=float(timeout_s),
            row=row,
            tenant_id=principal.tenant_id,
            finish=self._finisher(target, rules),
        )
        streamed = self._streamed(job) if stream and not run_async else None
        self.runner.submit(job, persist_first=run_async)
        if run_async:
            with job.lock:  # the worker may be changing the row already
                return Execution(self._document(job.row))
        wait = self.settings.sync_wait_s if wait_s is None else wait_s
        if streamed is not None:
            started = time.monotonic()
            streamed.ready.wait(wait)
            # A result that is large but quick is answered whole (with its length and row count):
            # a client reads a body of known length much faster than a chunked one (33 MB: 22 ms
            # against 40 with http.client, here). Only a query still running after the grace
            # time (or that has filled the buffer) is streamed.
            streamed.pressing.wait(max(0.0, min(STREAM_GRACE_S, wait - (time.monotonic() - started))))
            if not job.final and streamed.claim():
                self.runner.wait(job, 0)  # its row is written as running: status and cancel work anywhere
                with job.lock:
                    if not job.final or job.status == "completed":
                        return Execution(self._document(job.row), stream=streamed)
            # It ended first (or failed, or the wait ended): answered the ordinary way.
            streamed.abandon()
            wait = max(0.0, wait - (time.monotonic() - started))
        self.runner.wait(job, wait)
        with job.lock:
            status, table, error = job.status, job.table, job.error
            document = self._document(job.row)
            job.table = None
        if status == "completed" and table is not None:
            # Read from memory while the result is not stored yet, and when it is small; else from
            # the file, which can then be sent as it is (a full Arrow download).
            path = job.row.get("result_path")
            stored = self.runner.unwritten_result(query_id) is None and path and self.store.exists(path)
            source = path if stored and table.nbytes > SMALL_RESULT_BYTES else table
            return Execution(document, ResultReader(source))
        if status in ("failed", "cancelled") and error is not None:
            error.details = {**error.details, "query_id": query_id}
            raise error
        return Execution(document)

    def check(
        self, principal: Principal, sql: str, database: str = WAREHOUSE
    ) -> tuple[ReadOnlyQuery, frozenset[str] | None]:
        """The checks `run_query` makes before running (database visible, read-only in its dialect,
        the tenant's schemas), without running: saved queries check their SQL when saved. Returns the
        checked query and the schemas it was confined to (None: no schema wall)."""
        target = self._target(principal, database)
        schemas = self.tenant_rules(principal).schemas if target.schema_wall else None
        return checked(sql, target.engine.dialect, schemas), schemas

    def _finisher(self, target: _Target, rules: TenantRules) -> Callable[[Job, EngineRun], dict[str, Any]]:
        def finish(job: Job, run: EngineRun) -> dict[str, Any]:
            size = run.table.nbytes
            if rules.max_result_bytes is not None and size > rules.max_result_bytes:
                raise ValidationError(
                    f"The result takes {size} bytes; your tenant's memory limit allows "
                    f"{rules.max_result_bytes}: lower the limit or aggregate more",
                    details={"reason": "memory", "result_bytes": size},
                )
            streamed = self._streams.pop(job.query_id, None)
            if streamed is not None:  # written as it came: the file is put in place now
                path, stored = streamed.commit(run.table.schema)
            else:
                # Stored by the runner: after the answer when the caller waits for it (the caller
                # gets these rows from memory, so storing them is not in the way of the first
                # byte), else before the row says completed.
                table, query_id = run.table, job.query_id
                job.deferred = DeferredResult(table, lambda: self.store.write(query_id, table))
                path, stored = self.store.path_for(job.query_id), None
            return {
                "status": "completed",
                "rows_returned": run.table.num_rows,
                "truncated": run.truncated,
                "execution_time_ms": run.execution_time_ms,
                "columns": [
                    {"name": n, "type": t} for n, t in zip(run.table.schema.names, run.types, strict=False)
                ],
                "result_path": path,
                "result_bytes": stored,
                "bytes_scanned": target.engine.bytes_scanned(job.query),
            }

        return finish

    def _streamed(self, job: Job) -> StreamedResult | None:
        """A `StreamedResult` fed by `job`'s engine, if the engine streams (DuckDB does)."""
        if not isinstance(job.engine, DuckDBEngine):
            return None
        streamed = StreamedResult(
            self.store,
            job.query_id,
            start_after_bytes=STREAM_AFTER_BYTES,
            max_buffer_bytes=STREAM_BUFFER_BYTES,
        )
        self._streams[job.query_id] = streamed

        def stopped() -> PlatformError | None:
            if job.cancel_requested:
                return QueryCancelledError("The query was cancelled", details={"reason": "cancelled"})
            return None

        def on_final(done: Job) -> None:
            if self._streams.pop(done.query_id, None) is not None or done.status != "completed":
                streamed.fail(done.error or ServerError("The query did not complete"))

        job.on_batch = lambda batch: streamed.add(batch, stopped)
        job.on_final = on_final
        return streamed

    # -- the cache --------------------------------------------------------------------------

    def _cache_key(
        self, target: _Target, query: ReadOnlyQuery, values: dict[str, Any], limit: int
    ) -> str | None:
        if self.settings.cache_ttl_s <= 0 or query.kind == "explain":
            return None
        version = target.engine.data_version()
        if version is None:
            return None
        material = orjson.dumps(
            [target.database, version, query.dialect, query.normalized, canonical(values), limit]
        )
        return hashlib.sha256(material).hexdigest()

    def _from_cache(self, row: dict[str, Any], cache_key: str) -> Execution | None:
        started = time.perf_counter()
        since = row["submitted_at"] - timedelta(seconds=self.settings.cache_ttl_s)
        pending = self.runner.recorded_with_key(cache_key)
        hit: Any = _RowView(pending) if pending is not None and pending["finished_at"] >= since else None
        unstored = self.runner.unwritten_result(hit.query_id) if hit is not None else None
        deferred: DeferredResult | None = None
        if unstored is not None:
            # The original's rows are still only in memory: this hit keeps them the same way.
            query_id = row["query_id"]
            deferred = DeferredResult(unstored, lambda: self.store.write(query_id, unstored))
            path: str = self.store.path_for(query_id)
        else:
            if hit is None:
                hit = self.repository.find_cached(cache_key, since)
            if hit is None or not self.store.exists(hit.result_path):
                return None
            try:
                path = self.store.share(hit.result_path, row["query_id"])
            except OSError:
                return None  # swept meanwhile: run it
        row.update(
            status="completed",
            cache_hit=True,
            cache_key=None,  # the original's age decides how long a result is reused, not the hit's
            started_at=row["submitted_at"],
            finished_at=utcnow(),
            rows_returned=hit.rows_returned,
            truncated=hit.truncated,
            columns=hit.columns,
            bytes_scanned=0,
            result_path=path,
            result_bytes=hit.result_bytes,
            execution_time_ms=round((time.perf_counter() - started) * 1000, 3),
            runner=self.runner.identity,
        )
        self.runner.record(dict(row), deferred)
        document = self._document(row)
        document.metadata.cached_query_id = hit.query_id
        return Execution(document, ResultReader(unstored if unstored is not None else path))

    # -- status, cancel, history ------------------------------------------------------------

    def get(self, principal: Principal, query_id: str) -> Execution:
        """The query's document, and a reader of its rows when it completed and they are kept."""
        row = self._stale_checked(self._visible_row(principal, query_id))
        document = self._document(row)
        unstored = self.runner.unwritten_result(query_id) if row.status == "completed" else None
        if unstored is not None:
            return Execution(document, ResultReader(unstored))
        if row.status == "completed" and self.store.exists(row.result_path):
            try:
                return Execution(document, ResultReader(row.result_path))
            except (OSError, ValueError):
                pass
        document.result_available = False
        return Execution(document)

    def cancel(self, principal: Principal, query_id: str) -> QueryResult:
        """Stop a queued or running query wherever it runs; a finished one is answered as it is."""
        row = self._visible_row(principal, query_id)
        if row.status in FINAL_STATUSES:
            return self._document(row)
        self.repository.request_cancel(query_id)
        job = self.runner.get(query_id)
        if job is not None and self.runner.cancel(query_id):
            job.done.wait(CANCEL_WAIT_S)
        else:
            deadline = time.monotonic() + CANCEL_WAIT_S
            while time.monotonic() < deadline:
                current = self.repository.get(query_id)
                if current is None or current.status in FINAL_STATUSES:
                    break
                time.sleep(0.05)
        latest = self._row(query_id)
        return self._document(latest if latest is not None else row)

    def history(self, principal: Principal, query: QueryHistoryQuery) -> QueryHistory:
        """Your queries; a platform admin acting across tenants sees everyone's."""
        everyone = principal.is_platform_admin and principal.tenant_id is None
        self.runner.flush()
        rows, total = self.repository.list(
            username=None if everyone else principal.username,
            tenant_id=principal.tenant_id,
            all_tenants=everyone,
            status=query.status,
            database=query.database,
            limit=query.limit,
            offset=query.offset,
        )
        return QueryHistory(
            queries=[
                QueryHistoryItem(
                    query_id=r.query_id,
                    status=r.status,
                    query=r.query_text,
                    database=r.database,
                    rows_returned=r.rows_returned,
                    execution_time_ms=r.execution_time_ms,
                    cache_hit=bool(r.cache_hit),
                    submitted_at=db.as_utc(r.submitted_at),
                    finished_at=db.as_utc(r.finished_at),
                    submitted_by=r.username,
                    tenant_id=r.tenant_id,
                    error=QueryError(**r.error) if r.error else None,
                )
                for r in rows
            ],
            total_entries=total,
        )

    # -- helpers ----------------------------------------------------------------------------

    def _row(self, query_id: str) -> Any:
        """The query's row: this process's not yet written one, else the DB's."""
        pending = self.runner.recorded(query_id)
        if pending is not None:
            return _RowView(pending)
        return self.repository.get(query_id)

    def _visible_row(self, principal: Principal, query_id: str) -> Any:
        row = self._row(query_id) if _QUERY_ID.match(query_id) else None
        if row is None or not (
            (principal.is_platform_admin and principal.tenant_id is None)
            or (row.username == principal.username and row.tenant_id == principal.tenant_id)
        ):
            raise ResourceNotFoundError(f"Query {query_id!r} not found.", details={"query_id": query_id})
        return row

    def _stale_checked(self, row: Any) -> Any:
        if row.status in FINAL_STATUSES or self.runner.get(row.query_id) is not None:
            return row
        beat = db.as_utc(row.heartbeat_at or row.submitted_at)
        if beat is None or utcnow() - beat < STALE_AFTER:
            return row
        error = {
            "code": "INTERNAL_ERROR",
            "message": "The server process that ran the query stopped before it finished",
            "details": {"reason": "lost", "runner": row.runner},
        }
        self.repository.update(
            row.query_id, {"status": "failed", "error": error, "finished_at": utcnow()}, only_active=True
        )
        return self.repository.get(row.query_id)

    def _target(self, principal: Principal, database: str) -> _Target:
        settings = self.settings
        if database == WAREHOUSE:
            engine = duckdb_engine_for(settings.warehouse_path, settings.warehouse)
            return _Target(engine, WAREHOUSE, schema_wall=True)
        if principal.tenant_id is not None and not self.feature_enabled(
            principal.tenant_id, "external_connections"
        ):
            raise PermissionDeniedError(
                f"Tenant {principal.tenant_id!r} does not have the 'external_connections' feature, "
                "so it can query the warehouse only.",
                details={"tenant_id": principal.tenant_id, "feature": "external_connections"},
            )
        connection = self.find_connection(principal, database)
        conn_type = str(connection.conn_type or "").lower()
        if conn_type == "duckdb":
            path = _duckdb_path(connection, database)
            self._refuse_forbidden_file(path, database)
            wall = os.path.realpath(path) == os.path.realpath(settings.warehouse_path)
            return _Target(duckdb_engine_for(path, settings.warehouse), database, schema_wall=wall)
        if conn_type in SQL_DIALECTS:
            if conn_type == "sqlite":
                self._refuse_forbidden_file(str(connection.host or ""), database)

            def connect() -> Any:
                return connection.get_hook().get_conn()

            return _Target(SQLConnectionEngine(database, conn_type, connect), database, schema_wall=False)
        supported = ", ".join(sorted({"duckdb", *SQL_DIALECTS}))
        raise ValidationError(
            f"Connection {database!r} is of type {conn_type or 'unknown'}, which analytics queries do not "
            f"run on (supported: {supported}).",
            details={"reason": "connection_type", "connection_type": conn_type},
        )

    def _refuse_forbidden_file(self, path: str, database: str) -> None:
        real = os.path.realpath(path) if path else ""
        results = os.path.realpath(self.settings.results_path)
        if real and (real in self.settings.forbidden_files or real.startswith(results + os.sep)):
            raise PermissionDeniedError(
                f"Connection {database!r} points at a file of the platform itself; it cannot be queried.",
                details={"reason": "forbidden_file"},
            )

    def _document(self, row: Any) -> QueryResult:
        get = row.get if isinstance(row, dict) else lambda name, default=None: getattr(row, name, default)
        error = get("error")
        columns = get("columns")
        status = get("status")
        return QueryResult(
            query_id=get("query_id"),
            status=status,
            rows_returned=get("rows_returned"),
            execution_time_ms=get("execution_time_ms"),
            columns=[ResultColumn(**c) for c in columns] if columns else None,
            metadata=QueryMetadata(
                database=get("database"),
                schema=get("schema_name"),
                tables_accessed=list(get("tables_accessed") or []),
                bytes_scanned=get("bytes_scanned"),
                cache_hit=bool(get("cache_hit")),
            ),
            error=QueryError(**error) if error else None,
            query=get("query_text"),
            parameters=get("parameters") or {},
            truncated=bool(get("truncated")),
            submitted_at=db.as_utc(get("submitted_at")),
            started_at=db.as_utc(get("started_at")),
            finished_at=db.as_utc(get("finished_at")),
            submitted_by=get("username"),
            tenant_id=get("tenant_id"),
            cancel_requested=bool(get("cancel_requested")),
            result_available=status == "completed" and bool(get("result_path")),
        )

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - _last_sweep[0] < SWEEP_EVERY_S:
            return
        _last_sweep[0] = now
        threading.Thread(target=self._sweep, name="platform-query-sweep", daemon=True).start()

    def _sweep(self) -> None:
        """Delete result files past their time; their history entries stay."""
        before = utcnow() - timedelta(seconds=self.settings.result_ttl_s)
        try:
            while True:
                rows = self.repository.expired_results(before)
                if not rows:
                    return
                for r in rows:
                    self.store.delete(r.result_path)
                self.repository.forget_results(r.query_id for r in rows)
        except Exception:
            import logging

            logging.getLogger(__name__).warning("Sweeping analytics results failed", exc_info=True)


_QUERY_ID = re.compile(r"^q_[0-9a-f]{24}$")


class _RowView:
    """A row dict read like a DB row (attribute access)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        return None


def _require_parameters(query: ReadOnlyQuery, values: Mapping[str, Any]) -> None:
    given = {name.lower() for name in values}
    missing = [p for p in query.parameters if p.lower() not in given]
    if missing:
        raise ValidationError(
            "Missing value for parameter " + ", ".join(f":{m}" for m in missing),
            details={"reason": "parameter", "missing": missing},
        )


def _display_tables(query: ReadOnlyQuery) -> tuple[str | None, list[str]]:
    """The reference's `schema` and `tables_accessed`: tables of that schema by bare name."""
    schema = query.schemas[0] if query.schemas else None
    shown = []
    for table in query.tables:
        prefix, _, name = table.rpartition(".")
        shown.append(name if schema is not None and prefix == schema else table)
    return schema, shown


def _duckdb_path(connection: Any, database: str) -> str:
    """The file the DuckDB provider's hook would open; only local files are accepted here."""
    try:
        path = str(connection.get_hook().get_database())
    except Exception as e:
        raise ValidationError(
            f"Connection {database!r}: the DuckDB hook could not name its database ({e})",
            details={"reason": "connection"},
        ) from None
    if path in ("", ":memory:") or path.startswith("md:") or "://" in path or path.startswith("motherduck"):
        raise ValidationError(
            f"Connection {database!r} is not a local DuckDB file, which analytics queries need",
            details={"reason": "connection"},
        )
    return path


def tenant_rules_from(
    metadata: Mapping[str, Any] | None, limits: Mapping[str, str] | None, shared: frozenset[str]
) -> TenantRules:
    """A tenant's query rules from its metadata and resource limits."""
    raw = (metadata or {}).get("warehouse_schemas")
    if isinstance(raw, str) and raw.strip():
        schemas = frozenset(s.strip().lower() for s in raw.split(",") if s.strip())
    else:
        schemas = shared
    cpu = _quantity((limits or {}).get("cpu"))
    memory = _quantity((limits or {}).get("memory"))
    return TenantRules(
        schemas=schemas,
        max_concurrent=max(1, math.ceil(cpu)) if cpu else None,
        max_result_bytes=int(memory) if memory else None,
    )


_SUFFIX = {
    "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def _quantity(text: str | None) -> float | None:
    """A Kubernetes quantity ('2', '500m', '4Gi') as a number."""
    if not text:
        return None
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        return None
    return float(match.group(1)) * _SUFFIX.get(match.group(2) or "", 1)
