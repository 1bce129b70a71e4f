"""One scheduled export: run a saved query read-only and write its rows to the destination.

This runs inside an Airflow task, where Airflow 3 allows no metadata-DB access: everything comes
from the spec file (SQL, declared parameters, the tenant's schemas as they were when it was saved,
destination) and from Airflow's connections through ``BaseHook.get_connection``. The query goes
through the same read-only guard and the same engines as an API query: the warehouse opened
read-only with external access, extensions and configuration locked; a connection through its
hook in a read-only transaction.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_platform.analytics.engines import (
    SQL_DIALECTS,
    WAREHOUSE,
    Engine,
    SQLConnectionEngine,
    checked,
    duckdb_engine_for,
    warehouse_settings,
)
from airflow_platform.analytics.parameters import bind_values
from airflow_platform.exceptions import PermissionDeniedError, ValidationError
from airflow_platform.exports import destinations
from airflow_platform.schemas.saved_queries import RUN_PARAMETERS

if TYPE_CHECKING:
    import pyarrow

__all__ = ["RunDates", "engine_for", "export", "parameter_values", "run_dates", "write_rows"]

#: The engine's formats by export format (JSON exports are an array of row objects).
_STREAM_FORMATS = {"csv": "csv", "parquet": "parquet", "json": "jsonrows"}


@dataclass(frozen=True)
class RunDates:
    """The run's dates: the file is named by ``run_date``; declared run parameters get these."""

    run_date: date
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run_dates(context: Mapping[str, Any]) -> RunDates:
    """From a task's context. A run without a logical date (Airflow 3 manual runs may have none)
    is dated by when it was due to run."""
    dag_run = context.get("dag_run")
    logical = _utc(context.get("logical_date"))
    start = _utc(context.get("data_interval_start"))
    end = _utc(context.get("data_interval_end"))
    when = logical or _utc(getattr(dag_run, "run_after", None)) or end or datetime.now(timezone.utc)
    return RunDates(
        run_date=when.date(), logical_date=logical, data_interval_start=start, data_interval_end=end
    )


def _run_value(name: str, type_name: str, dates: RunDates) -> Any:
    if name == "run_date":
        value: date | datetime | None = dates.run_date
    else:
        value = getattr(dates, name)
    if value is None:
        return None
    if type_name == "date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    return value.isoformat()


def parameter_values(declared: Iterable[Mapping[str, Any]], dates: RunDates) -> dict[str, Any]:
    """What a scheduled run binds: the run's dates for declared run parameters, else the defaults
    (NULL for an optional parameter without one)."""
    wire: dict[str, Any] = {}
    for item in declared:
        name, type_name = str(item["name"]), str(item.get("type") or "string")
        value = _run_value(name, type_name, dates) if name in RUN_PARAMETERS else None
        if value is None:
            value = item.get("default")
        if value is None and item.get("required"):
            raise ValidationError(
                f"Parameter :{name} is required and has no default; a scheduled run cannot give it one",
                details={"reason": "parameter", "parameter": name},
            )
        wire[name] = {"type": type_name, "value": value}
    return bind_values(wire)


# -- engines ---------------------------------------------------------------------------------


def _platform_files() -> list[str]:
    """Files a connection may never point at: the metadata DB and the query results store."""
    from airflow_platform import compat, config

    paths = []
    uri = compat.sql_alchemy_conn()
    if uri.startswith("sqlite:"):
        paths.append(os.path.realpath(uri.split("?", 1)[0].split(":///", 1)[-1]))
    results = config.get("analytics_results_path") or os.path.join(
        config.airflow_home(), "platform", "query-results"
    )
    paths.append(os.path.realpath(results))
    return paths


def _refuse_platform_file(path: str, database: str) -> None:
    real = os.path.realpath(path) if path else ""
    if real and any(real == p or real.startswith(p + os.sep) for p in _platform_files()):
        raise PermissionDeniedError(
            f"Connection {database!r} points at a file of the platform itself; it cannot be queried.",
            details={"reason": "forbidden_file"},
        )


def _duckdb_file(connection: Any, database: str) -> str:
    try:
        path = str(connection.get_hook().get_database())
    except Exception as e:
        raise ValidationError(
            f"Connection {database!r}: the DuckDB hook could not name its database ({e})"
        ) from None
    if path in ("", ":memory:") or "://" in path or path.startswith(("md:", "motherduck")):
        raise ValidationError(f"Connection {database!r} is not a local DuckDB file, which exports need")
    return path


def engine_for(database: str) -> Engine:
    """The engine of ``database`` without the metadata DB: the warehouse, or a connection's hook."""
    from airflow_platform import compat, config

    if database == WAREHOUSE:
        return duckdb_engine_for(config.warehouse_path(), warehouse_settings())
    connection = compat.get_connection(database)
    conn_type = str(connection.conn_type or "").lower()
    if conn_type == "duckdb":
        path = _duckdb_file(connection, database)
        _refuse_platform_file(path, database)
        return duckdb_engine_for(path, warehouse_settings())
    if conn_type in SQL_DIALECTS:
        if conn_type == "sqlite":
            _refuse_platform_file(str(connection.host or ""), database)

        def connect() -> Any:
            return connection.get_hook().get_conn()

        return SQLConnectionEngine(database, conn_type, connect)
    raise ValidationError(
        f"Connection {database!r} is of type {conn_type or 'unknown'}, which exports do not run on"
    )


# -- writing ---------------------------------------------------------------------------------


def _chunks(table: pyarrow.Table, output_format: str) -> Iterable[bytes]:
    from airflow_platform.analytics.results import BATCH_ROWS, stream

    return stream(_STREAM_FORMATS[output_format], table.schema, table.to_batches(max_chunksize=BATCH_ROWS))


def _write_local(folder: str, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Into a temporary file beside the target, then renamed: readers never see half a file, and
    a link planted at the target's name is replaced, not followed."""
    os.makedirs(folder, exist_ok=True)
    if os.path.realpath(folder) != folder:  # a link made since the destination was checked
        raise PermissionDeniedError(
            f"The export folder {folder} is now a link elsewhere; nothing was written",
            details={"reason": "destination"},
        )
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
        os.chmod(temporary, 0o644)
        target = os.path.join(folder, name)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target, size


def _write_object_storage(uri: str, chunks: Iterable[bytes]) -> int:
    """Through Airflow's object storage (fsspec); an object store shows an object once it is closed."""
    from airflow_platform import compat

    path = compat.object_storage_path(uri)
    size = 0
    with path.open("wb") as f:
        for chunk in chunks:
            f.write(chunk)
            size += len(chunk)
    return size


def write_rows(
    destination: destinations.Destination, name: str, output_format: str, table: pyarrow.Table
) -> tuple[str, int]:
    """Write ``table`` as ``output_format`` to ``<destination>/<name>``; returns its URI and size."""
    chunks = _chunks(table, output_format)
    if destination.scheme == "file":
        assert destination.local_path is not None
        path, size = _write_local(destination.local_path, name, chunks)
        return f"file://{path}", size
    uri = destination.file_uri(name)
    return uri, _write_object_storage(uri, chunks)


# -- the whole export ------------------------------------------------------------------------


@dataclass
class Export:
    """A running export, so the task's ``on_kill`` can interrupt its engine."""

    engine: Engine | None = None
    run_id: str = ""

    def cancel(self) -> bool:
        return self.engine.cancel(self.run_id) if self.engine is not None else False


def export(spec: Mapping[str, Any], dates: RunDates, current: Export | None = None) -> dict[str, Any]:
    """Run the spec's query for this run and write the file. Raises ``PlatformError``s: 4xx ones
    are mistakes a retry cannot fix; a 503 (warehouse busy, connection down) may be retried."""
    from airflow_platform import config

    current = current or Export()
    destination = destinations.parse(
        spec["destination"], allowed_paths=config.export_allowed_paths(), tenant_id=spec.get("tenant_id")
    )
    engine = engine_for(spec.get("database") or WAREHOUSE)
    schemas = spec.get("allowed_schemas")
    query = checked(spec["query"], engine.dialect, frozenset(schemas) if schemas is not None else None)
    declared = spec.get("parameters") or []
    names = {p["name"] for p in declared}
    undeclared = sorted(set(query.parameters) - names)
    if undeclared:
        raise ValidationError(f"The query uses undeclared parameters: {', '.join(undeclared)}")
    values = parameter_values(declared, dates)
    limit = config.get_int("analytics_max_rows")
    current.engine, current.run_id = engine, f"export-{uuid.uuid4().hex}"
    result = engine.run(
        query,
        {name: values[name] for name in query.parameters},
        limit=limit,
        timeout_s=float(config.get_int("analytics_max_timeout_seconds")),
        run_id=current.run_id,
    )
    if result.truncated:
        raise ValidationError(
            f"The result has more than {limit} rows ([platform] analytics_max_rows); nothing was written: "
            "aggregate more, or raise the limit",
            details={"reason": "too_many_rows", "limit": limit},
        )
    output_format = spec.get("output_format") or "csv"
    name = destinations.file_name(spec["slug"], dates.run_date, output_format)
    uri, size = write_rows(destination, name, output_format, result.table)
    return {
        "uri": uri,
        "rows": result.table.num_rows,
        "bytes": size,
        "format": output_format,
        "execution_time_ms": result.execution_time_ms,
    }
