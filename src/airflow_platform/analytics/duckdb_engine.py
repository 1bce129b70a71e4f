"""The embedded DuckDB warehouse, opened read-only for analytics queries.

The guard (`analytics.guard`) refuses what is not a read, but a parser check alone has been
bypassed before (Superset, CVE-2026-23984), so this engine is read-only on its own:

* the file is opened `read_only=True`: DuckDB refuses every write to it;
* `enable_external_access=false`: no file, URL or object store can be read or written (read_csv,
  `FROM 'x.csv'`, COPY, ATTACH, EXPORT, INSTALL all fail with a permission error);
* extensions are neither auto-installed nor auto-loaded; community, unsigned and mismatched
  extensions and new extension repositories are refused; Python replacement scans
  (`FROM some_dataframe_variable`) are off; persistent and unredacted secrets are off;
* `memory_limit`, `threads` and `max_temp_directory_size` cap what one query can take;
* `lock_configuration=true` comes last, so no statement can turn any of that back on;
* DuckDB's own parser must see exactly one SELECT or EXPLAIN statement before anything runs,
  with no denied function and no table the guard did not see (so a disagreement between
  sqlglot and DuckDB about what a text means can only refuse a query, never widen it);
* every run has a timeout that interrupts the engine, and a row limit pushed into the fetch.

DuckDB lets one process write a file or many processes read it. A DataKit task that loads data
holds the write lock for a moment, so opening retries with a bounded wait and then answers 503.
Connections are short (one per query) so readers never keep a writer out for long.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_platform.analytics.guard import (
    ReadOnlyQuery,
    function_is_denied,
    looks_like_path,
    table_function_is_allowed,
    table_is_denied,
)
from airflow_platform.exceptions import (
    ConflictError,
    PlatformError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "DuckDBWarehouse",
    "QueryCancelledError",
    "QueryResult",
    "QueryTimeoutError",
]

#: Statement types (DuckDB's own parser) that a read-only query may be.
_READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})

#: `EXPLAIN [ANALYZE] ` in front of the statement DuckDB's JSON serializer is given.
_EXPLAIN_PREFIX = re.compile(r"\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?", re.IGNORECASE)

#: Query nodes in DuckDB's parse tree that write.
_WRITE_NODE = re.compile(r"INSERT|UPDATE|DELETE|MERGE", re.IGNORECASE)

#: Parameter values that bind as plain SQL values; anything else is refused before binding.
_SCALARS: tuple[type, ...] = (
    str,
    int,
    float,
    bool,
    Decimal,
    dt.date,
    dt.datetime,
    dt.time,
    dt.timedelta,
    uuid.UUID,
)

#: Rows per Arrow batch when a small result is streamed out of DuckDB.
_ARROW_BATCH_ROWS = 65_536

#: How often a stopped query is interrupted again until it has really stopped (an interrupt
#: that lands just before DuckDB starts a query is forgotten by it).
_REINTERRUPT_S = 0.05
#: The watchdog looks at least this often, and ends after this long without queries.
_WATCHDOG_TICK_S = 1.0
_WATCHDOG_IDLE_S = 10.0


class QueryTimeoutError(ValidationError):
    """The query ran past its timeout and was interrupted: a 4xx, the query asked too much."""


class QueryCancelledError(ConflictError):
    """The query was cancelled (by `cancel()`) while it ran."""


@dataclass(frozen=True)
class QueryResult:
    """What a run produced.

    `rows` holds Python tuples, or a `pyarrow.Table` when the run asked for Arrow (then no
    Python row objects are built at all). `truncated` says the query had more rows than `limit`.
    """

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]] | pyarrow.Table
    rows_returned: int
    truncated: bool
    execution_time_ms: float

    @property
    def is_arrow(self) -> bool:
        return not isinstance(self.rows, list)


class _Execution:
    """One running query: its connection, its deadline, and why it is being stopped.

    The process's one watchdog thread (`_Watchdog`) stops it at its deadline, or when `stop` is
    called, by interrupting the connection every `_REINTERRUPT_S` until the run says it has
    finished. Interrupting and finishing take one lock, so a connection is never interrupted after
    its run has moved on to close it. (A thread per query cost more than a small query: starting
    and joining it took ~0.5 ms on a busy two-core machine.)
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self._connection = connection
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self.deadline = 0.0
        self.done = False
        self.reason: str | None = None

    def start(self) -> None:
        self.deadline = time.monotonic() + self._timeout_s
        _WATCHDOG.add(self)

    def stop(self, reason: str) -> bool:
        with self._lock:
            if self.done:
                return False
            if self.reason is None:
                self.reason = reason
        _WATCHDOG.wake()
        return True

    def finish(self) -> None:
        with self._lock:
            self.done = True
        _WATCHDOG.remove(self)

    def time_out_or_interrupt(self, now: float) -> None:
        """The watchdog's part: past the deadline the query times out; a stopping one is interrupted."""
        with self._lock:
            if self.done:
                return
            if self.reason is None and self.deadline <= now:
                self.reason = "timeout"
            if self.reason is not None:
                self._connection.interrupt()


class _Watchdog:
    """One thread per process that times out and interrupts the running queries.

    It sleeps until the earliest deadline (at most `_WATCHDOG_TICK_S` while nothing is close), or
    until a stop or an earlier deadline wakes it; while a query is being stopped it interrupts it
    again every `_REINTERRUPT_S` (an interrupt that lands just before DuckDB starts the query is
    forgotten by it). A query with an ordinary timeout does not wake it at all, and it ends after
    `_WATCHDOG_IDLE_S` without queries (the next query starts it again).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running: set[_Execution] = set()
        #: When the thread will look next; inf while it is looking (then any change makes it look again).
        self._wakes_at = math.inf
        self._changed = False
        self._pid = 0  # the process whose thread is alive (0: none; a forked child has none)

    def add(self, execution: _Execution) -> None:
        with self._cond:
            self._running.add(execution)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._wakes_at = math.inf
                threading.Thread(target=self._watch, name="duckdb-query-watchdog", daemon=True).start()
            elif execution.reason is not None or execution.deadline < self._wakes_at:
                self._changed = True  # stopped before it started, or due before the next look
                self._cond.notify()

    def remove(self, execution: _Execution) -> None:
        with self._cond:
            self._running.discard(execution)

    def wake(self) -> None:
        with self._cond:
            self._changed = True
            self._cond.notify()

    def _watch(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._cond:
                self._changed = False
                now = time.monotonic()
                due = [e for e in self._running if e.reason is not None or e.deadline <= now]
                pending = [e.deadline for e in self._running if e.reason is None and e.deadline > now]
                if self._running:
                    idle_since = now
                elif now - idle_since >= _WATCHDOG_IDLE_S:
                    self._pid = 0
                    return
            for execution in due:
                execution.time_out_or_interrupt(now)
            with self._cond:
                if self._changed:
                    continue
                wakes_at = min([now + _WATCHDOG_TICK_S, *pending])
                if due:
                    wakes_at = min(wakes_at, now + _REINTERRUPT_S)
                self._wakes_at = wakes_at
                pause = wakes_at - time.monotonic()
                if pause > 0:
                    self._cond.wait(pause)
                self._wakes_at = math.inf


_WATCHDOG = _Watchdog()


class DuckDBWarehouse:
    """The warehouse file, for read-only queries.

    One object serves many threads: each `run` opens its own connection (DuckDB shares the
    database instance between a process's connections to one file, so this is cheap while any is
    open, and the file is free for a writer once none is). `memory_limit` and `threads` are
    per database instance, i.e. shared by the concurrent queries of this process.
    """

    def __init__(
        self,
        path: str,
        *,
        memory_limit: str = "1GB",
        threads: int = 2,
        lock_wait_s: float = 5.0,
        max_temp_directory_size: str = "1GB",
    ) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.threads = threads
        self.lock_wait_s = lock_wait_s
        self.max_temp_directory_size = max_temp_directory_size
        self._running: dict[str, _Execution] = {}
        self._running_lock = threading.Lock()

    # -- connections -----------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The DuckDB settings every read-only connection is opened with.

        They are given at open time, so all of them hold before any statement runs, and
        `lock_configuration` makes them final. Every connection of this process to the file
        must use the same settings (DuckDB refuses a second configuration of an open file).
        """
        return {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_extensions_metadata_mismatch": False,
            "allow_extension_repositories": "forbidden",
            "allow_persistent_secrets": False,
            "allow_unredacted_secrets": False,
            "python_enable_replacements": False,
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "max_temp_directory_size": self.max_temp_directory_size,
            "lock_configuration": True,
        }

    def connect_read_only(self) -> duckdb.DuckDBPyConnection:
        """A read-only, locked-down connection; waits up to `lock_wait_s` for a writer to finish.

        Raises `ServiceUnavailableError` (503, with Retry-After) when the file is still held, or
        does not exist yet. The caller closes the connection (it is a context manager).
        """
        if not os.path.exists(self.path):
            raise ServiceUnavailableError(
                "The warehouse has no data yet; it is created when data is first loaded",
                details={"reason": "absent"},
            )
        deadline = time.monotonic() + self.lock_wait_s
        pause = 0.02
        while True:
            try:
                return duckdb.connect(self.path, read_only=True, config=self.config)
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if not _is_busy(e):
                    raise ServerError(
                        "The warehouse could not be opened", details={"reason": _first_line(e)}
                    ) from e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServiceUnavailableError(
                        "The warehouse is busy (a writer holds it); try again",
                        details={"reason": "locked", "waited_seconds": self.lock_wait_s},
                        headers={"Retry-After": "1"},
                    ) from None
                # Jitter, so readers waiting on the same writer do not all retry in step.
                time.sleep(min(remaining, pause * random.uniform(0.5, 1.0)))
                pause = min(pause * 1.6, 0.25)

    # -- queries ---------------------------------------------------------------------------

    def run(
        self,
        query: ReadOnlyQuery,
        parameters: Mapping[str, object] | None = None,
        *,
        limit: int,
        timeout_s: float,
        run_id: str | None = None,
        as_arrow: bool = False,
        on_batch: Callable[[pyarrow.RecordBatch], None] | None = None,
    ) -> QueryResult:
        """Run a checked query and return at most `limit` rows.

        Values are bound by the engine to the query's named placeholders (`:name`, which the guard
        rendered as DuckDB's `$name`); parameters the query does not use are ignored, a missing one
        is refused. One row more than `limit` is fetched to tell `truncated`; DuckDB streams, so the
        rest is never produced. After `timeout_s` the engine is interrupted and
        `QueryTimeoutError` raised; `cancel(run_id)` from another thread raises
        `QueryCancelledError` here. With `as_arrow`, `rows` is a `pyarrow.Table`, and `on_batch`
        (if given) is called with each record batch as DuckDB produces it (within `limit`), so the
        rows can be passed on before the query ends; what it raises stops the query.
        """
        if query.dialect != "duckdb":
            raise ValidationError(
                f"This query was checked as {query.dialect} SQL; the warehouse runs DuckDB SQL",
                details={"reason": "dialect"},
            )
        if limit < 0:
            raise ValidationError("limit must be 0 or more", details={"reason": "limit"})
        if timeout_s <= 0:
            raise ValidationError("timeout_seconds must be more than 0", details={"reason": "timeout"})
        if as_arrow:
            _require_pyarrow()
        run_id = run_id or uuid.uuid4().hex

        connection = self._query_connection()
        execution = _Execution(connection, timeout_s)
        try:
            statement = _one_read_statement(connection, query.normalized)
            _check_as_duckdb_reads_it(connection, query, statement.type.name)
            values = _bind(statement.named_parameters, parameters or {})
            with self._running_lock:
                if run_id in self._running:
                    raise ConflictError(f"A query with run id {run_id} is already running")
                self._running[run_id] = execution
            started = time.perf_counter()
            execution.start()
            try:
                if as_arrow:
                    columns, types, rows, count, truncated = _fetch_arrow(
                        connection, statement, values, limit, on_batch
                    )
                else:
                    columns, types, rows, count, truncated = _fetch_rows(connection, statement, values, limit)
            except duckdb.InterruptException:
                raise _stopped(execution.reason, timeout_s) from None
            finally:
                execution.finish()
                with self._running_lock:
                    self._running.pop(run_id, None)
            elapsed_ms = (time.perf_counter() - started) * 1000
            return QueryResult(
                columns=columns,
                types=types,
                rows=rows,
                rows_returned=count,
                truncated=truncated,
                execution_time_ms=round(elapsed_ms, 3),
            )
        except duckdb.Error as e:
            raise _engine_error(e, self.memory_limit) from None
        finally:
            self._done_with(connection)

    def _query_connection(self) -> duckdb.DuckDBPyConnection:
        """The connection one query runs on; `_done_with` gets it back."""
        return self.connect_read_only()

    def _done_with(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.close()

    def run_arrow(
        self,
        query: ReadOnlyQuery,
        parameters: Mapping[str, object] | None = None,
        *,
        limit: int,
        timeout_s: float,
        run_id: str | None = None,
        on_batch: Callable[[pyarrow.RecordBatch], None] | None = None,
    ) -> QueryResult:
        """`run` with the rows as a `pyarrow.Table`, for Arrow/Parquet output without Python rows."""
        return self.run(
            query,
            parameters,
            limit=limit,
            timeout_s=timeout_s,
            run_id=run_id,
            as_arrow=True,
            on_batch=on_batch,
        )

    def cancel(self, run_id: str | None = None) -> bool:
        """Interrupt the running query `run_id` (every running query when None), from any thread.

        Returns whether anything was running to interrupt. A cancel that arrives before a run has
        started, or after it has finished, finds nothing: the caller keeps the query's state.
        """
        with self._running_lock:
            targets = list(self._running.values()) if run_id is None else [self._running.get(run_id)]
        stopped = False
        for execution in targets:
            if execution is not None and execution.stop("cancelled"):
                stopped = True
        return stopped

    def running(self) -> list[str]:
        """Run ids of the queries running now."""
        with self._running_lock:
            return list(self._running)


# -- helpers ---------------------------------------------------------------------------------


def _is_busy(error: duckdb.Error) -> bool:
    """A writer's lock (another process), or this process holding the file another way."""
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text or "different configuration" in text


def _one_read_statement(connection: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """DuckDB's own parser must agree that this is one SELECT or EXPLAIN.

    The guard parsed with sqlglot; this parses with the engine, so a disagreement between the two
    parsers can only make a query fail, never let a second statement or a write through. The
    parsed statement is what runs, so the text is not parsed a third time; a text that passed is
    kept per thread (a parse tree, bound to no connection; not shared between threads) and not
    parsed again: parsing cost as much as running a one-row query's plan.
    """
    cache: dict[str, duckdb.Statement] | None = getattr(_parsed, "statements", None)
    if cache is None:
        cache = _parsed.statements = {}
    known = cache.get(sql)
    if known is not None:
        return known
    statement = _parse_one_read_statement(connection, sql)
    if len(cache) >= _PARSED_PER_THREAD:
        cache.clear()
    cache[sql] = statement
    return statement


#: Statements `_one_read_statement` passed, by text, per thread.
_parsed = threading.local()
_PARSED_PER_THREAD = 256


def _parse_one_read_statement(connection: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    try:
        statements = connection.extract_statements(sql)
        kinds = [s.type.name for s in statements]
    except (duckdb.Error, ValueError) as e:  # ValueError: a statement type the client cannot name
        raise ValidationError(
            f"The warehouse could not parse the query: {_first_line(e)}", details={"reason": "unparseable"}
        ) from None
    if len(statements) != 1:
        raise ValidationError(
            f"Only one statement is allowed per query; the warehouse found {len(statements)}",
            details={"reason": "multiple_statements"},
        )
    kind = kinds[0]
    if kind not in _READ_STATEMENTS:
        raise ValidationError(
            f"{kind} is not allowed: queries are read-only",
            details={"reason": "statement", "statement": kind},
        )
    return statements[0]


def _check_as_duckdb_reads_it(connection: duckdb.DuckDBPyConnection, query: ReadOnlyQuery, kind: str) -> None:
    """The guard's rules, applied to DuckDB's own parse tree of the text that will run.

    `json_serialize_sql` gives the tree DuckDB's parser builds. In it: no write, no denied
    function, no table function off the allow-list, no path as a table, and no table that the
    guard's `query.tables` does not list (CTE names aside). This is how a parser differential (the
    Superset CVE-2026-23984 kind) is caught: a table or function sqlglot did not see is refused.

    The outcome depends on the text and DuckDB's parser only, so a text that passed is remembered
    (per process, bounded) and not serialized again.
    """
    key = (query.normalized, query.tables, kind)
    if key in _PASSED_PARSE_CHECK:
        return
    _check_parse_tree(connection, query, kind)
    if len(_PASSED_PARSE_CHECK) >= _PASSED_PARSE_CHECK_MAX:
        _PASSED_PARSE_CHECK.clear()
    _PASSED_PARSE_CHECK[key] = None


#: Texts (with their table lists and statement kind) that passed `_check_as_duckdb_reads_it`.
_PASSED_PARSE_CHECK: dict[tuple[str, tuple[str, ...], str], None] = {}
_PASSED_PARSE_CHECK_MAX = 4096


def _check_parse_tree(connection: duckdb.DuckDBPyConnection, query: ReadOnlyQuery, kind: str) -> None:
    text = query.normalized
    if kind == "EXPLAIN":
        prefix = _EXPLAIN_PREFIX.match(text)
        if prefix is None:
            raise ValidationError("Write EXPLAIN [ANALYZE] SELECT ...", details={"reason": "statement"})
        text = text[prefix.end() :]
    rows = connection.execute("SELECT json_serialize_sql($q)", {"q": text}).fetchall()
    tree = json.loads(rows[0][0])
    if tree.get("error"):
        raise ValidationError(
            f"The warehouse could not check the query: {tree.get('error_message', 'unknown error')}",
            details={"reason": "unparseable"},
        )
    seen = _ParseTree()
    seen.collect(tree)
    if seen.writes:
        raise ValidationError(
            "A write is not allowed anywhere in a query: queries are read-only",
            details={"reason": "statement"},
        )
    for name in sorted(seen.functions):
        if function_is_denied(name):
            raise ValidationError(
                f"Function {name}() is not allowed: queries read warehouse tables only",
                details={"reason": "function", "function": name},
            )
    for name in sorted(seen.table_functions):
        if not table_function_is_allowed(name):
            raise ValidationError(
                f"Table function {name}() is not allowed; read warehouse tables by name",
                details={"reason": "table_function", "function": name},
            )
    known = {t.lower() for t in query.tables}
    for catalog, schema, name in sorted(seen.tables):
        dotted = ".".join(p for p in (catalog, schema, name) if p)
        if looks_like_path(name) or table_is_denied(name):
            raise ValidationError(
                f"Table {dotted} is not allowed", details={"reason": "table", "table": dotted}
            )
        if not schema and not catalog and name in seen.ctes:
            continue
        if dotted in known or (not schema and not catalog and any(t.endswith("." + name) for t in known)):
            continue
        raise ValidationError(
            f"The warehouse would read {dotted}, which the query check did not see; refused",
            details={"reason": "table", "table": dotted},
        )


class _ParseTree:
    """Names gathered from DuckDB's JSON parse tree."""

    def __init__(self) -> None:
        self.functions: set[str] = set()
        self.table_functions: set[str] = set()
        self.tables: set[tuple[str, str, str]] = set()
        self.ctes: set[str] = set()
        self.writes = False

    def collect(self, node: object) -> None:
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
                continue
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE") and _WRITE_NODE.search(kind):
                self.writes = True
            if "function_name" in item:
                self.functions.add(str(item["function_name"]).lower())
            if kind == "TABLE_FUNCTION":
                function = item.get("function") or {}
                self.table_functions.add(str(function.get("function_name", "")).lower())
            elif kind == "BASE_TABLE":
                self.tables.add(
                    (
                        str(item.get("catalog_name") or "").lower(),
                        str(item.get("schema_name") or "").lower(),
                        str(item.get("table_name") or "").lower(),
                    )
                )
            cte_map = item.get("cte_map")
            if isinstance(cte_map, dict):
                for entry in cte_map.get("map") or []:
                    if isinstance(entry, dict) and "key" in entry:
                        self.ctes.add(str(entry["key"]).lower())
            stack.extend(item.values())


def _bind(names: set[str], parameters: Mapping[str, object]) -> dict[str, object]:
    """The values for the statement's placeholders, by name; values stay values, never SQL text."""
    by_lower = {str(k).lower(): k for k in parameters}
    values: dict[str, object] = {}
    missing: list[str] = []
    for name in sorted(names):
        key = name if name in parameters else by_lower.get(name.lower())
        if key is None:
            missing.append(name)
            continue
        value = parameters[key]
        if not _bindable(value):
            raise ValidationError(
                f"Parameter :{name} has a value of type {type(value).__name__}, which cannot be bound",
                details={"reason": "parameter", "parameter": name},
            )
        values[name] = value
    if missing:
        raise ValidationError(
            "Missing value for parameter " + ", ".join(f":{m}" for m in missing),
            details={"reason": "parameter", "missing": missing},
        )
    return values


def _bindable(value: object) -> bool:
    if value is None or isinstance(value, _SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(v is None or isinstance(v, _SCALARS) for v in value)
    return False


def _fetch_rows(
    connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement, values: dict[str, object], limit: int
) -> tuple[list[str], list[str], list[tuple[Any, ...]], int, bool]:
    connection.execute(statement, values)
    description = connection.description or []
    rows = connection.fetchmany(limit + 1)
    truncated = len(rows) > limit
    rows = rows[:limit]
    return [d[0] for d in description], [str(d[1]) for d in description], rows, len(rows), truncated


def _fetch_arrow(
    connection: duckdb.DuckDBPyConnection,
    statement: duckdb.Statement,
    values: dict[str, object],
    limit: int,
    on_batch: Callable[[pyarrow.RecordBatch], None] | None = None,
) -> tuple[list[str], list[str], Any, int, bool]:
    if on_batch is None and limit < _ARROW_BATCH_ROWS:
        return _fetch_arrow_small(connection, statement, values, limit)
    relation = connection.sql(statement, params=values or None)
    if relation is None:
        raise ValidationError("The query returned no result set", details={"reason": "no_result"})
    columns = list(relation.columns)
    types = [str(t) for t in relation.types]
    if limit < _ARROW_BATCH_ROWS or on_batch is not None:
        # Batches as DuckDB streams them, stopped one row past the limit (DuckDB produces no more):
        # small limits skip binding a LIMIT relation (~0.5 ms), and a caller can pass rows on early.
        import pyarrow as pa

        reader = relation.to_arrow_reader(_ARROW_BATCH_ROWS)
        try:
            batches, truncated = _read_up_to(reader, limit, on_batch=on_batch)
        finally:
            reader.close()
        table = pa.Table.from_batches(batches, schema=reader.schema)
    else:
        table = relation.limit(limit + 1).to_arrow_table()
        truncated = table.num_rows > limit
        if truncated:
            table = table.slice(0, limit)
    return columns, types, table, table.num_rows, truncated


def _fetch_arrow_small(
    connection: duckdb.DuckDBPyConnection, statement: duckdb.Statement, values: dict[str, object], limit: int
) -> tuple[list[str], list[str], Any, int, bool]:
    """`_fetch_arrow` for a limit below one batch, without DuckDB's fixed cost of a relation.

    Binding a relation and exporting its result to Arrow cost DuckDB ~0.3 ms per query whatever
    its size, several times a one-row query's run. So the statement runs as a plain ``execute``;
    when every column has a plain type (`_PLAIN_ARROW_TYPES`), the first `_TINY_ROWS` + 1 rows
    come as Python values, and a result that ends there becomes Arrow here, typed as DuckDB's own
    export types it (tests compare the two). A longer one, or other types, is read on from the
    same result as Arrow (the rows already read lead it): the query never runs twice.
    """
    import pyarrow as pa

    connection.execute(statement, values)
    description = connection.description
    if description is None:
        raise ValidationError("The query returned no result set", details={"reason": "no_result"})
    columns = [d[0] for d in description]
    types = [str(d[1]) for d in description]
    schema = _plain_arrow_schema(columns, types)
    head: list[tuple[Any, ...]] = []
    if schema is not None:
        wanted = min(limit, _TINY_ROWS) + 1
        head = connection.fetchmany(wanted)
        if len(head) < wanted or limit <= _TINY_ROWS:  # the result ended, or the limit did
            if len(head) == wanted:
                connection.abort()  # rows past the limit: DuckDB stops producing them
            truncated = len(head) > limit
            table = _rows_to_arrow(head[:limit], schema)
            return columns, types, table, table.num_rows, truncated
    _quiet_result_arrow_warning()
    reader: Any = connection.to_arrow_reader(_ARROW_BATCH_ROWS)  # what the result holds after `head`
    try:
        lead = _rows_to_arrow(head, reader.schema).to_batches() if head else []
        batches, truncated = _read_up_to(reader, limit, lead)
    finally:
        reader.close()
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return columns, types, table, table.num_rows, truncated


#: Results of at most this many rows (of plain types) are put into Arrow from Python values.
_TINY_ROWS = 64
#: DuckDB types whose Python values Arrow takes as they are, and the Arrow type DuckDB exports.
_PLAIN_ARROW_TYPES = {
    "BOOLEAN": "bool_",
    "TINYINT": "int8",
    "SMALLINT": "int16",
    "INTEGER": "int32",
    "BIGINT": "int64",
    "UTINYINT": "uint8",
    "USMALLINT": "uint16",
    "UINTEGER": "uint32",
    "UBIGINT": "uint64",
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "VARCHAR": "string",
    "BLOB": "binary",
    "DATE": "date32",
}
_DECIMAL_TYPE = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def _plain_arrow_schema(columns: list[str], types: list[str]) -> pyarrow.Schema | None:
    key = (tuple(columns), tuple(types))
    try:
        return _plain_schemas[key]
    except KeyError:
        pass
    schema = _make_plain_arrow_schema(columns, types)
    if len(_plain_schemas) >= 1024:
        _plain_schemas.clear()
    _plain_schemas[key] = schema
    return schema


#: Schemas made by `_plain_arrow_schema`, by column names and types (a query repeats its shape).
_plain_schemas: dict[tuple[tuple[str, ...], tuple[str, ...]], pyarrow.Schema | None] = {}


def _make_plain_arrow_schema(columns: list[str], types: list[str]) -> pyarrow.Schema | None:
    import pyarrow as pa

    fields = []
    for name, kind in zip(columns, types, strict=True):
        factory = _PLAIN_ARROW_TYPES.get(kind)
        if factory is not None:
            fields.append(pa.field(name, getattr(pa, factory)()))
            continue
        if kind == "TIMESTAMP":
            fields.append(pa.field(name, pa.timestamp("us")))
            continue
        decimal = _DECIMAL_TYPE.match(kind)
        if decimal is None:
            return None
        fields.append(pa.field(name, pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))))
    return pa.schema(fields)


def _rows_to_arrow(rows: list[tuple[Any, ...]], schema: pyarrow.Schema) -> pyarrow.Table:
    import pyarrow as pa

    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _quiet_result_arrow_warning() -> None:
    """DuckDB warns that Arrow from an ``execute`` result copies the rows; for the at most one
    batch read that way that is cheaper than running the query again, so the warning is noise.
    (Set on each use, not once: test runners and ``catch_warnings`` put the filters back.)"""
    import warnings

    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


def _read_up_to(
    reader: Any,
    limit: int,
    lead: list[pyarrow.RecordBatch] | None = None,
    on_batch: Callable[[pyarrow.RecordBatch], None] | None = None,
) -> tuple[list[pyarrow.RecordBatch], bool]:
    """`lead` then the reader's batches, up to `limit` rows, each passed to `on_batch`; and
    whether there were more (the reader is not read past the batch that shows it)."""
    batches = []
    fetched = 0
    truncated = False
    for batch in itertools.chain(lead or (), _engine_errors(reader)):
        if fetched + batch.num_rows > limit:
            batch = batch.slice(0, limit - fetched)
            truncated = True
        if batch.num_rows:
            batches.append(batch)
            fetched += batch.num_rows
            if on_batch is not None:
                on_batch(batch)
        if truncated:
            break
    return batches, truncated


def _engine_errors(reader: Any) -> Iterator[pyarrow.RecordBatch]:
    """The reader's batches; DuckDB's errors while it streams come through Arrow as `OSError`
    (`INTERRUPT Error: Interrupted!`, `Conversion Error: ...`), and are turned back into DuckDB's."""
    import pyarrow as pa

    iterator = iter(reader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as e:
            text = _first_line(e)
            if "INTERRUPT" in text.upper():
                raise duckdb.InterruptException(text) from None
            if "Out of Memory" in text:
                raise duckdb.OutOfMemoryException(text) from None
            raise ValidationError(text, details={"reason": "query"}) from None
        yield batch


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ServerError(
            "Arrow output needs the pyarrow package, which is not installed on the server",
            details={"reason": "pyarrow_missing"},
        ) from None


def _stopped(reason: str | None, timeout_s: float) -> PlatformError:
    if reason == "cancelled":
        return QueryCancelledError("The query was cancelled", details={"reason": "cancelled"})
    return QueryTimeoutError(
        f"The query ran longer than its timeout of {timeout_s:g} s and was stopped",
        details={"reason": "timeout", "timeout_seconds": timeout_s},
    )


def _engine_error(error: duckdb.Error, memory_limit: str) -> PlatformError:
    """DuckDB's error as the platform's: the query's fault is a 400, the engine's a 500."""
    if isinstance(error, duckdb.OutOfMemoryException):
        return ValidationError(
            f"The query needs more memory than the warehouse allows ({memory_limit}); "
            "filter or aggregate more, or lower the limit",
            details={"reason": "memory"},
        )
    if isinstance(error, duckdb.PermissionException):
        return ValidationError(f"Not allowed: {_first_line(error)}", details={"reason": "permission"})
    if isinstance(error, duckdb.InterruptException):
        return QueryCancelledError("The query was interrupted", details={"reason": "interrupted"})
    user_errors = (
        duckdb.ProgrammingError,
        duckdb.DataError,
        duckdb.IntegrityError,
        duckdb.NotSupportedError,
        duckdb.TransactionException,
        duckdb.SequenceException,
        duckdb.DependencyException,
    )
    if isinstance(error, user_errors):
        return ValidationError(_first_line(error), details={"reason": "query"})
    return ServerError("The warehouse failed to run the query", details={"reason": type(error).__name__})


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
