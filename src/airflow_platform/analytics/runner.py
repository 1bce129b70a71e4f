"""Runs queries on a bounded pool of threads, and lets a cancel reach them from any process.

A query's row in the metadata DB is its shared state. What this module adds is the process side:

* a pool of `max_workers` threads (more queries wait as `queued`);
* `wait`: a request waits a short while for its query. One that is not done by then is written to
  the DB as running (before the caller hears its id) and updated when it ends. One answered within
  the wait is written once, finished, by a background writer that batches such rows into one
  transaction (`record`): a commit on the metadata DB costs more than a small query, and the
  caller has its rows already. Until the row is in the DB this process answers for it
  (`recorded`). Which of the two happens is decided under the job's lock, so the final update can
  never precede the insert. The result is stored the same way (`Job.deferred`): the writer stores
  its file before it inserts the row, so every process that can see the row can read the rows;
  until then this process answers from memory (`unwritten_result`). A query whose row is already
  in the DB (async, or slower than the wait) stores its file before its final update;
* cancels: in the process that runs the query, `cancel` interrupts the engine at once; from any
  other process, `cancel_requested` is set in the DB and this process's watcher, which polls the
  flags of its running queries every `poll_s`, interrupts the engine. The watcher also marks its
  running queries alive (`heartbeat_at`), so a query whose process died can be told from a slow one.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_platform.analytics.duckdb_engine import QueryCancelledError
from airflow_platform.exceptions import PlatformError, ServerError

if TYPE_CHECKING:
    import pyarrow

    from airflow_platform.analytics.engines import Engine, EngineRun
    from airflow_platform.analytics.guard import ReadOnlyQuery

__all__ = ["DeferredResult", "Job", "Runner", "error_document"]

log = logging.getLogger(__name__)

#: How often the watcher reads the cancel flags of this process's running queries.
POLL_S = 0.1
#: How often it tells the DB that they are still running.
HEARTBEAT_S = 5.0
#: How long the background writer gathers finished rows before it writes them in one transaction.
WRITE_BEHIND_S = 0.05


class Repository(Protocol):
    def insert(self, values: dict[str, Any]) -> None: ...
    def insert_many(self, rows: list[dict[str, Any]]) -> None: ...
    def update(self, query_id: str, values: dict[str, Any], *, only_active: bool = False) -> bool: ...
    def cancel_requested(self, query_ids: Any) -> set[str]: ...
    def heartbeat(self, query_ids: Any, at: datetime) -> None: ...


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def error_document(error: PlatformError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "details": error.details}


@dataclass(eq=False)
class Job:
    """One query in this process, from submission to its final state."""

    query_id: str
    engine: Engine
    query: ReadOnlyQuery
    values: dict[str, Any]
    limit: int
    timeout_s: float
    #: The row as first written (the service fills it); final fields are added to it.
    row: dict[str, Any]
    tenant_id: str | None
    #: Called with the engine's run; returns the final row fields (writes the result file).
    finish: Callable[[Job, EngineRun], dict[str, Any]]
    status: str = "queued"
    persisted: bool = False
    cancel_requested: bool = False
    table: pyarrow.Table | None = None
    #: A result the finisher left to store later (small results of queries answered in the wait).
    deferred: DeferredResult | None = None
    #: Given each record batch as the engine produces it (a streamed answer), if set.
    on_batch: Callable[[pyarrow.RecordBatch], None] | None = None
    #: Called once the job has its final state (under its lock).
    on_final: Callable[[Job], None] | None = None
    error: PlatformError | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def final(self) -> bool:
        return self.done.is_set()


@dataclass(eq=False)
class DeferredResult:
    """A result not stored yet: `store` writes it and returns the path and the size in bytes."""

    table: pyarrow.Table
    store: Callable[[], tuple[str, int]]


class Runner:
    def __init__(self, repository: Repository, max_workers: int) -> None:
        self.repository = repository
        self.max_workers = max(1, max_workers)
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="platform-query")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        #: Final rows waiting for the background writer, by query id.
        self._pending: dict[str, dict[str, Any]] = {}
        #: Their results still to be stored, by query id (stored before the row is inserted).
        self._unstored: dict[str, DeferredResult] = {}
        self._pending_lock = threading.Lock()
        self._pending_wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._write_lock = threading.Lock()  # one batch at a time: a flush never races the writer
        atexit.register(self._flush_at_exit)

    # -- submitting and waiting -------------------------------------------------------------

    def submit(self, job: Job, *, persist_first: bool) -> None:
        """Queue `job`; with `persist_first` its row is written before it can start (async calls)."""
        if persist_first:
            self._persist(job)
        with self._lock:
            self._jobs[job.query_id] = job
        self._pool.submit(self._run, job)
        if persist_first:
            self._ensure_watcher()

    def wait(self, job: Job, seconds: float) -> None:
        """Wait up to `seconds`; then a running job's row is written, a finished one's queued."""
        job.done.wait(max(0.0, seconds))
        with job.lock:
            if job.persisted:
                return
            if job.final:
                job.persisted = True
                deferred, job.deferred = job.deferred, None
                self.record({**job.row, "runner": self.identity}, deferred)
                return
        self._persist(job)
        self._ensure_watcher()

    # -- rows written behind ----------------------------------------------------------------

    def record(self, row: dict[str, Any], deferred: DeferredResult | None = None) -> None:
        """Insert a final row soon, batched with others (see the module's docstring); a `deferred`
        result is stored first."""
        with self._pending_lock:
            self._pending[row["query_id"]] = row
            if deferred is not None:
                self._unstored[row["query_id"]] = deferred
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_behind, name="platform-query-writer", daemon=True
                )
                self._writer.start()
        self._pending_wake.set()

    def recorded(self, query_id: str) -> dict[str, Any] | None:
        """A final row of this process that the writer has not written yet."""
        with self._pending_lock:
            row = self._pending.get(query_id)
            return dict(row) if row is not None else None

    def unwritten_result(self, query_id: str) -> pyarrow.Table | None:
        """The rows of a query of this process whose result is not stored yet."""
        with self._pending_lock:
            deferred = self._unstored.get(query_id)
            return deferred.table if deferred is not None else None

    def recorded_with_key(self, cache_key: str) -> dict[str, Any] | None:
        """The newest completed, not yet written row of this process with this cache key."""
        with self._pending_lock:
            found = [
                r
                for r in self._pending.values()
                if r.get("cache_key") == cache_key and r.get("status") == "completed"
            ]
        return dict(max(found, key=lambda r: r["finished_at"])) if found else None

    def flush(self) -> None:
        """Write the pending rows now (history lists read the DB)."""
        with self._pending_lock:
            rows = list(self._pending.values())
        if rows:
            self._write(rows)

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except Exception:
            log.warning("Analytics queries of this process were not all recorded", exc_info=True)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._write_lock:
            with self._pending_lock:  # what is still pending: another batch may have taken some
                rows = [r for r in rows if self._pending.get(r["query_id"]) is r]
                deferred = [(r, self._unstored.get(r["query_id"])) for r in rows]
            for row, result in deferred:
                if result is not None:
                    row.update(_stored(row["query_id"], result))
            if rows:
                self.repository.insert_many(rows)
        with self._pending_lock:
            for row in rows:
                if self._pending.get(row["query_id"]) is row:
                    del self._pending[row["query_id"]]
                    self._unstored.pop(row["query_id"], None)

    def _write_behind(self) -> None:
        failures = 0
        while True:
            self._pending_wake.wait(1.0)
            # Gather what arrives meanwhile: one commit for a burst, not one per query.
            time.sleep(WRITE_BEHIND_S)
            self._pending_wake.clear()
            with self._pending_lock:
                rows = list(self._pending.values())
            if not rows:
                continue
            try:
                self._write(rows)
                failures = 0
            except Exception:
                failures += 1
                log.warning("Could not record %d analytics queries; retrying", len(rows), exc_info=True)
                time.sleep(min(5.0, 0.1 * 2**failures))
                self._pending_wake.set()

    def active(self, tenant_id: str | None = None) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if not j.final and j.tenant_id == tenant_id)

    def get(self, query_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(query_id)

    def cancel(self, query_id: str) -> bool:
        """Stop a query of this process: before it starts, or by interrupting its engine."""
        job = self.get(query_id)
        if job is None:
            return False
        with job.lock:
            if job.final:
                return False
            job.cancel_requested = True
            started = job.status == "running"
        if started:
            job.engine.cancel(query_id)
        return True

    # -- the work ---------------------------------------------------------------------------

    def _persist(self, job: Job) -> None:
        with job.lock:
            if job.persisted:
                return
            if job.deferred is not None:  # it finished just now: the row must not precede its rows
                job.row.update(_stored(job.query_id, job.deferred))
                job.deferred = None
            values = dict(job.row)
            values.update(status=job.status, runner=self.identity, heartbeat_at=utcnow())
            self.repository.insert(values)
            job.persisted = True

    def _run(self, job: Job) -> None:
        with job.lock:
            if job.cancel_requested:
                self._finish(job, _cancelled_fields(), locked=True)
                return
            job.status = "running"
            started = utcnow()
            job.row.update(status="running", started_at=started)
            persisted = job.persisted
        if persisted:
            self.repository.update(
                job.query_id, {"status": "running", "started_at": started}, only_active=True
            )
        try:
            streaming: dict[str, Any] = {"on_batch": job.on_batch} if job.on_batch is not None else {}
            run = job.engine.run(
                job.query,
                job.values,
                limit=job.limit,
                timeout_s=job.timeout_s,
                run_id=job.query_id,
                **streaming,
            )
            fields = job.finish(job, run)
            job.table = run.table
            with job.lock:
                persisted = job.persisted
            if persisted and job.deferred is not None:  # stored here, not under the job's lock
                fields.update(_stored(job.query_id, job.deferred))
                job.deferred = None
        except PlatformError as e:
            fields = _failed_fields(e)
            job.error = e
        except Exception as e:  # the trace goes to the log, never to the caller
            log.exception("Analytics query %s failed", job.query_id)
            error = ServerError("The query failed on the server", details={"reason": type(e).__name__})
            fields = _failed_fields(error)
            job.error = error
        self._finish(job, fields, locked=False)

    def _finish(self, job: Job, fields: dict[str, Any], *, locked: bool) -> None:
        fields.setdefault("finished_at", utcnow())
        if locked:
            self._apply_final(job, fields)
        else:
            with job.lock:
                self._apply_final(job, fields)
        with self._lock:
            self._jobs.pop(job.query_id, None)

    def _apply_final(self, job: Job, fields: dict[str, Any]) -> None:
        if job.persisted and job.deferred is not None:
            # Other processes can see this row: its result must be there before it says completed.
            fields.update(_stored(job.query_id, job.deferred))
            job.deferred = None
        job.status = fields["status"]
        if job.status == "cancelled" and job.error is None:
            job.error = QueryCancelledError("The query was cancelled", details={"reason": "cancelled"})
        job.row.update(fields)
        if job.on_final is not None:
            try:
                job.on_final(job)
            except Exception:
                log.exception("Finishing analytics query %s failed", job.query_id)
        if job.persisted:
            try:
                self.repository.update(job.query_id, fields, only_active=True)
            except Exception:
                log.exception("Could not record the end of analytics query %s", job.query_id)
        job.done.set()

    # -- the watcher ------------------------------------------------------------------------

    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(target=self._watch, name="platform-query-watcher", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        last_beat = time.monotonic()
        while True:
            time.sleep(POLL_S)
            with self._lock:
                ids = [j.query_id for j in self._jobs.values() if j.persisted and not j.final]
                if not ids:
                    self._watcher = None
                    return
            try:
                for query_id in self.repository.cancel_requested(ids):
                    self.cancel(query_id)
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    self.repository.heartbeat(ids, utcnow())
                    last_beat = time.monotonic()
            except Exception:
                log.warning("Analytics query watcher could not read the metadata DB", exc_info=True)


def _stored(query_id: str, result: DeferredResult) -> dict[str, Any]:
    """Store a deferred result; the row's fields that say where (none when it could not be stored:
    the query still completed, its rows are just not kept)."""
    try:
        path, size = result.store()
    except Exception:
        log.warning("Could not store the result of analytics query %s", query_id, exc_info=True)
        return {"result_path": None, "result_bytes": None}
    return {"result_path": path, "result_bytes": size}


def _failed_fields(error: PlatformError) -> dict[str, Any]:
    status = "cancelled" if isinstance(error, QueryCancelledError) else "failed"
    return {"status": status, "error": error_document(error)}


def _cancelled_fields() -> dict[str, Any]:
    error = QueryCancelledError("The query was cancelled before it started", details={"reason": "cancelled"})
    return {"status": "cancelled", "error": error_document(error)}
