"""The engines a query's `database` names: the embedded warehouse, or an Airflow connection.

Each engine checks a text with the read-only guard in its own dialect, runs it read-only at the
engine level as well, binds the parameters as values, stops it at its timeout or on a cancel, and
hands back the rows as an Arrow table.

* `warehouse`: the DuckDB file of `[platform] warehouse_path`, through `SharedWarehouse`
  (read-only, external access and extensions off, configuration locked, memory/thread caps).
* an Airflow connection of type `duckdb`: the official DuckDB provider's hook names the file, which
  is opened with the same hardening (never through the hook's own `get_conn`, which would load
  extensions and open it writable).
* `postgres`: the provider's hook gives the connection; each query runs in a `READ ONLY`
  transaction with `statement_timeout`, and is rolled back.
* `sqlite`: the provider's hook gives the connection; `PRAGMA query_only` makes it read-only.
Other connection types are refused (400): there is no read-only mode to rely on for them here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from airflow_platform.analytics.access import SharedWarehouse, data_version
from airflow_platform.analytics.duckdb_engine import QueryCancelledError, QueryTimeoutError
from airflow_platform.analytics.guard import ReadOnlyQuery, check_read_only
from airflow_platform.exceptions import (
    PlatformError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "WAREHOUSE",
    "DuckDBEngine",
    "Engine",
    "EngineRun",
    "SQLConnectionEngine",
    "WarehouseSettings",
    "checked",
    "duckdb_engine_for",
]

WAREHOUSE = "warehouse"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineRun:
    table: pyarrow.Table
    columns: list[str]
    types: list[str]
    truncated: bool
    execution_time_ms: float


class Engine(Protocol):
    """What the runner needs of an engine."""

    dialect: str

    def run(
        self, query: ReadOnlyQuery, values: Mapping[str, Any], *, limit: int, timeout_s: float, run_id: str
    ) -> EngineRun: ...

    def cancel(self, run_id: str) -> bool: ...

    def data_version(self) -> str | None:
        """A fingerprint of the data; None when it cannot be known (then nothing is cached)."""
        ...

    def bytes_scanned(self, query: ReadOnlyQuery) -> int | None: ...


@lru_cache(maxsize=2048)
def _checked(sql: str, dialect: str, allowed: frozenset[str] | None) -> ReadOnlyQuery:
    return check_read_only(sql, dialect, allowed_schemas=allowed)


def checked(sql: str, dialect: str, allowed_schemas: frozenset[str] | None) -> ReadOnlyQuery:
    """`check_read_only`, remembered: the same text under the same rules parses once per process.

    Only accepted texts are remembered (a refusal raises, which `lru_cache` does not keep), and
    `ReadOnlyQuery` is immutable, so sharing it is safe.
    """
    return _checked(sql, dialect, allowed_schemas)


# -- DuckDB ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarehouseSettings:
    memory_limit: str = "1GB"
    threads: int = 0
    lock_wait_s: float = 3.0
    keepalive_s: float = 2.0


_duckdb_engines: dict[str, DuckDBEngine] = {}
_duckdb_lock = threading.Lock()


#: Resolved warehouse paths, by path, until a time: resolving costs three ``lstat`` calls, a tenth
#: of a one-row query, and a path's target changes rarely (a moved link is seen within a second).
_real_paths: dict[str, tuple[float, str]] = {}
_REAL_PATH_TTL_S = 1.0


def _real_path(path: str) -> str:
    now = time.monotonic()
    known = _real_paths.get(path)
    if known is not None and known[0] > now:
        return known[1]
    real = os.path.realpath(path)
    if len(_real_paths) > 1000:
        _real_paths.clear()
    _real_paths[path] = (now + _REAL_PATH_TTL_S, real)
    return real


def duckdb_engine_for(path: str, settings: WarehouseSettings) -> DuckDBEngine:
    """One engine per file and process: DuckDB allows one configuration per open file in a process."""
    key = _real_path(path)
    with _duckdb_lock:
        engine = _duckdb_engines.get(key)
        if engine is None or engine.settings != settings:
            if engine is not None:
                engine.warehouse.release()
            engine = DuckDBEngine(key, settings)
            _duckdb_engines[key] = engine
        return engine


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str, settings: WarehouseSettings) -> None:
        self.settings = settings
        self.warehouse = SharedWarehouse(
            path,
            memory_limit=settings.memory_limit,
            threads=settings.threads or os.cpu_count() or 1,
            lock_wait_s=settings.lock_wait_s,
            keepalive_s=settings.keepalive_s,
        )

    def run(
        self,
        query: ReadOnlyQuery,
        values: Mapping[str, Any],
        *,
        limit: int,
        timeout_s: float,
        run_id: str,
        on_batch: Callable[[pyarrow.RecordBatch], None] | None = None,
    ) -> EngineRun:
        """The rows as a table; `on_batch` also gets each record batch as DuckDB produces it."""
        result = self.warehouse.run_arrow(
            query, values, limit=limit, timeout_s=timeout_s, run_id=run_id, on_batch=on_batch
        )
        return EngineRun(
            table=result.rows,
            columns=result.columns,
            types=result.types,
            truncated=result.truncated,
            execution_time_ms=result.execution_time_ms,
        )

    def cancel(self, run_id: str) -> bool:
        return self.warehouse.cancel(run_id)

    def data_version(self) -> str | None:
        return data_version(self.warehouse.path)

    def bytes_scanned(self, query: ReadOnlyQuery) -> int | None:
        return self.warehouse.bytes_scanned(query.tables, self.data_version())


# -- SQL databases through their Airflow hooks -----------------------------------------------

#: Airflow connection types this engine runs, by the sqlglot dialect their SQL is checked in.
SQL_DIALECTS = {"postgres": "postgres", "postgresql": "postgres", "sqlite": "sqlite"}

#: PostgreSQL type OIDs → names, for the `columns` of a result.
_PG_TYPES = {
    16: "boolean", 17: "bytea", 18: "char", 19: "name", 20: "bigint", 21: "smallint", 23: "integer",
    25: "text", 26: "oid", 114: "json", 700: "real", 701: "double precision", 1042: "character",
    1043: "character varying", 1082: "date", 1083: "time", 1114: "timestamp",
    1184: "timestamp with time zone", 1186: "interval", 1700: "numeric", 2950: "uuid", 3802: "jsonb",
}  # fmt: skip


class SQLConnectionEngine:
    """A query over an Airflow connection's DB-API connection, read-only at the engine too."""

    def __init__(self, database: str, conn_type: str, connect: Callable[[], Any]) -> None:
        self.database = database
        self.conn_type = conn_type
        self.dialect = SQL_DIALECTS[conn_type]
        self._connect = connect
        self._running: dict[str, tuple[Any, list[str]]] = {}
        self._lock = threading.Lock()

    def data_version(self) -> str | None:
        return None

    def bytes_scanned(self, query: ReadOnlyQuery) -> int | None:
        return None

    def cancel(self, run_id: str) -> bool:
        with self._lock:
            entry = self._running.get(run_id)
        if entry is None:
            return False
        connection, reason = entry
        if not reason:
            reason.append("cancelled")
        self._interrupt(connection)
        return True

    def _interrupt(self, connection: Any) -> None:
        try:
            if self.dialect == "postgres":
                connection.cancel()
            else:
                connection.interrupt()
        except Exception:
            log.debug("Interrupting a %s query failed (it may have ended)", self.conn_type, exc_info=True)

    def run(
        self, query: ReadOnlyQuery, values: Mapping[str, Any], *, limit: int, timeout_s: float, run_id: str
    ) -> EngineRun:
        missing = [p for p in query.parameters if p not in values]
        if missing:
            raise ValidationError(
                "Missing value for parameter " + ", ".join(f":{m}" for m in missing),
                details={"reason": "parameter", "missing": missing},
            )
        bound = {name: values[name] for name in query.parameters}
        try:
            connection = self._connect()
        except PlatformError:
            raise
        except Exception as e:
            raise ServiceUnavailableError(
                f"Could not connect to {self.database}: {_first_line(e)}", details={"reason": "connect"}
            ) from None
        reason: list[str] = []
        with self._lock:
            self._running[run_id] = (connection, reason)

        def on_timeout() -> None:
            if not reason:
                reason.append("timeout")
            self._interrupt(connection)

        timer = threading.Timer(timeout_s, on_timeout)
        timer.daemon = True
        started = time.perf_counter()
        try:
            timer.start()
            cursor = connection.cursor()
            if self.dialect == "postgres":
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                sql = _escape_percent(query.normalized, query.parameters) if bound else query.normalized
            else:
                cursor.execute("PRAGMA query_only = ON")
                sql = query.normalized
            if bound:
                cursor.execute(sql, bound)
            else:
                cursor.execute(sql)
            description = cursor.description or []
            rows = cursor.fetchmany(limit + 1)
        except Exception as e:
            raise self._error(e, reason, timeout_s) from None
        finally:
            timer.cancel()
            with self._lock:
                self._running.pop(run_id, None)
            with contextlib.suppress(Exception):  # a read-only transaction: nothing to keep
                connection.rollback()
            with contextlib.suppress(Exception):
                connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        truncated = len(rows) > limit
        rows = rows[:limit]
        names = [str(d[0]) for d in description]
        types = [self._type_name(d[1]) for d in description]
        return EngineRun(
            table=_arrow_from_rows(names, rows),
            columns=names,
            types=types,
            truncated=truncated,
            execution_time_ms=round(elapsed, 3),
        )

    def _type_name(self, code: Any) -> str:
        if self.dialect == "postgres" and isinstance(code, int):
            return _PG_TYPES.get(code, f"oid {code}")
        return str(code) if code is not None else "unknown"

    def _error(self, error: Exception, reason: list[str], timeout_s: float) -> PlatformError:
        if reason and reason[0] == "cancelled":
            return QueryCancelledError("The query was cancelled", details={"reason": "cancelled"})
        text = _first_line(error)
        code = str(getattr(error, "pgcode", None) or getattr(error, "sqlstate", None) or "")
        if reason or code == "57014" or "interrupted" in text:
            return QueryTimeoutError(
                f"The query ran longer than its timeout of {timeout_s:g} s and was stopped",
                details={"reason": "timeout", "timeout_seconds": timeout_s},
            )
        if code == "25006" or "readonly" in text.replace("-", "").replace(" ", "").lower():
            return ValidationError(f"Not allowed: {text}", details={"reason": "read_only"})
        if code[:2] in ("08", "57", "53"):
            return ServiceUnavailableError(f"{self.database}: {text}", details={"reason": "engine"})
        if code[:2] in ("22", "42", "0A", "23", "2B", "21") or type(error).__name__ in (
            "OperationalError",
            "ProgrammingError",
            "DataError",
        ):
            return ValidationError(text, details={"reason": "query"})
        return ServerError(
            f"{self.database} failed to run the query", details={"reason": type(error).__name__}
        )


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _escape_percent(sql: str, names: tuple[str, ...]) -> str:
    """Literal `%` doubled so the driver's pyformat substitution leaves it alone."""
    out = []
    position = 0
    for match in _PLACEHOLDER.finditer(sql):
        if match.group(1) not in names:
            continue
        out.append(sql[position : match.start()].replace("%", "%%"))
        out.append(match.group(0))
        position = match.end()
    out.append(sql[position:].replace("%", "%%"))
    return "".join(out)


def _arrow_from_rows(names: list[str], rows: list[tuple[Any, ...]]) -> pyarrow.Table:
    import pyarrow as pa

    from airflow_platform.analytics.results import dumps

    unique = []
    seen: set[str] = set()
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        unique.append(candidate)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(list(values)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            arrays.append(
                pa.array([None if v is None else dumps(v).decode() for v in values], type=pa.string())
            )
    return pa.Table.from_arrays(arrays, names=unique)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def warehouse_settings() -> WarehouseSettings:
    """The DuckDB settings of `[platform]`, read at call time.

    Every reader of one warehouse file in a process must open it with the same settings (DuckDB
    refuses a second configuration of an open file), so the health probe uses these too.
    """
    from airflow_platform import config

    return WarehouseSettings(
        memory_limit=config.get("analytics_memory_limit"),
        threads=config.get_int("analytics_threads"),
        lock_wait_s=float(config.get_int("analytics_lock_wait_seconds")),
        keepalive_s=float(config.get_int("analytics_keepalive_seconds")),
    )
