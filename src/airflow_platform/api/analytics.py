"""``/api/v1/analytics``: run read-only SQL, follow it, cancel it, page or download its rows.

Formats: JSON (default), CSV, Arrow IPC stream and Parquet, chosen by ``format=`` or the
``Accept`` header. Rows stream from the result in record batches, so a result of any size is sent
without being held twice. Arrow and Parquet go out uncompressed (Airflow 3's GZip middleware is
told so by ``api.asgi``): compressing them costs more time than the bytes saved.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request

from airflow_platform import compat, config
from airflow_platform.analytics.engines import warehouse_settings
from airflow_platform.analytics.results import ResultReader, json_rows, stream
from airflow_platform.api.authn import tenant_service
from airflow_platform.api.responses import json_response
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import ConflictError, ResourceNotFoundError
from airflow_platform.schemas.analytics import (
    MEDIA_TYPES,
    ExecuteFormatQuery,
    QueryHistory,
    QueryHistoryQuery,
    QueryPageQuery,
    QueryRequest,
    QueryResult,
)
from airflow_platform.services.analytics import (
    AnalyticsService,
    AnalyticsSettings,
    Execution,
    TenantRules,
    tenant_rules_from,
)

blueprint = PlatformBlueprint("analytics", __name__)
RESOURCE = "Analytics"
BASE = "/api/v1/analytics"
TAGS = ["analytics"]
FEATURE = "analytics"  # a tenant with "analytics": false gets 403 here

#: JSON pages: rows per page when none is asked for, and the most one page may hold.
DEFAULT_PAGE = 1000
MAX_PAGE = 100_000
#: JSON bodies with more rows than this stream in chunks instead of being built at once.
STREAM_JSON_ABOVE = 10_000

_ACCEPTED = {
    "application/json": "json",
    "text/csv": "csv",
    "application/vnd.apache.arrow.stream": "arrow",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
_EXTENSIONS = {"csv": "csv", "arrow": "arrows", "parquet": "parquet"}


# -- wiring ----------------------------------------------------------------------------------

_rules_cache: dict[str, tuple[float, TenantRules]] = {}
_RULES_TTL_S = 2.0


def _shared_schemas() -> frozenset[str]:
    return frozenset(
        s.strip().lower() for s in config.get("analytics_shared_schemas").split(",") if s.strip()
    )


def _tenant_rules(principal: Principal) -> TenantRules:
    """The tenant's schemas and limits, remembered for 2 s (one metadata read per burst, not per query)."""
    if principal.tenant_id is None:
        return TenantRules()
    now = time.monotonic()
    cached = _rules_cache.get(principal.tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    import sqlalchemy as sa

    from airflow_platform.storage import db
    from airflow_platform.storage.tables import tenants

    with db.reading() as conn:
        row = conn.execute(
            sa.select(tenants.c.tenant_metadata, tenants.c.resource_limits).where(
                tenants.c.tenant_id == principal.tenant_id
            )
        ).first()
    rules = tenant_rules_from(
        row.tenant_metadata if row else None, row.resource_limits if row else None, _shared_schemas()
    )
    _rules_cache[principal.tenant_id] = (now + _RULES_TTL_S, rules)
    return rules


def _find_connection(principal: Principal, conn_id: str) -> Any:
    from airflow_platform.services.connections import ConnectionService
    from airflow_platform.storage.airflow_connections import AirflowConnectionStore

    store = AirflowConnectionStore()
    service = ConnectionService(store, redact=compat.redact, tenant_exists=tenant_service().exists)
    try:
        service.get(principal, conn_id)  # the connections service's visibility rules
    except ResourceNotFoundError:
        raise ResourceNotFoundError(
            f"No database {conn_id!r}: use 'warehouse' or the id of a connection you can see.",
            details={"database": conn_id},
        ) from None
    return store.airflow_connection(conn_id)


def _forbidden_files() -> frozenset[str]:
    uri = compat.sql_alchemy_conn()
    if uri.startswith("sqlite:"):
        path = uri.split("?", 1)[0].split(":///", 1)[-1]
        return frozenset({os.path.realpath(path)})
    return frozenset()


_settings_cache: list[tuple[float, AnalyticsSettings]] = []
#: Settings are read at most once a second: reading a dozen options costs more than a small query.
_SETTINGS_TTL_S = 1.0


def settings() -> AnalyticsSettings:
    now = time.monotonic()
    if _settings_cache and _settings_cache[0][0] > now:
        return _settings_cache[0][1]
    current = _read_settings()
    _settings_cache[:] = [(now + _SETTINGS_TTL_S, current)]
    return current


def _read_settings() -> AnalyticsSettings:
    results = config.get("analytics_results_path") or os.path.join(
        config.airflow_home(), "platform", "query-results"
    )
    return AnalyticsSettings(
        warehouse_path=config.warehouse_path(),
        results_path=results,
        warehouse=warehouse_settings(),
        max_rows=config.get_int("analytics_max_rows"),
        max_timeout_s=float(config.get_int("analytics_max_timeout_seconds")),
        sync_wait_s=float(config.get_int("analytics_sync_wait_seconds")),
        max_concurrent=config.get_int("analytics_max_concurrent_queries"),
        cache_ttl_s=config.get_int("analytics_cache_ttl_seconds"),
        result_ttl_s=config.get_int("analytics_result_ttl_seconds"),
        shared_schemas=_shared_schemas(),
        forbidden_files=_forbidden_files(),
    )


_service_lock = threading.Lock()
_service_cache: list[tuple[AnalyticsSettings, AnalyticsService]] = []


def service() -> AnalyticsService:
    """The analytics service for the current configuration (rebuilt only when it changes)."""
    current = settings()
    with _service_lock:
        if _service_cache and (_service_cache[0][0] is current or _service_cache[0][0] == current):
            return _service_cache[0][1]
        made = AnalyticsService(
            current,
            tenant_rules=_tenant_rules,
            feature_enabled=lambda tenant, feature: tenant_service().feature_enabled(tenant, feature),
            find_connection=_find_connection,
        )
        _service_cache[:] = [(current, made)]
        return made


# -- answers ---------------------------------------------------------------------------------


def _format(explicit: str | None) -> str:
    if explicit:
        return explicit
    best = request.accept_mimetypes.best_match(list(_ACCEPTED), default="application/json")
    return _ACCEPTED.get(best or "application/json", "json")


def _closing(chunks: Iterator[bytes], reader: ResultReader) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        reader.close()


def _rows_response(execution: Execution, fmt: str, offset: int, limit: int | None, status: int) -> Response:
    document = execution.result
    reader = execution.reader
    assert reader is not None
    offset = min(offset, reader.num_rows)
    if fmt == "json":
        # POST answers every row the query kept (its own limit); GET pages (limit given).
        count = reader.num_rows - offset if limit is None else min(limit, reader.num_rows - offset)
        document.offset, document.limit = offset, count
        head = document.model_dump_json(by_alias=True, exclude={"data"}).encode()
        prefix = head[:-1] + b',"data":'
        batches = reader.batches(offset, count)
        if count <= STREAM_JSON_ABOVE:
            body = prefix + b"".join(json_rows(batches)) + b"}"
            reader.close()
            return Response(body, status=status, mimetype="application/json")

        def document_chunks() -> Iterator[bytes]:
            yield prefix
            yield from json_rows(batches)
            yield b"}"

        return Response(_closing(document_chunks(), reader), status=status, mimetype="application/json")
    count = reader.num_rows - offset if limit is None else min(limit, reader.num_rows - offset)
    headers = {
        "X-Query-Id": document.query_id,
        "X-Query-Status": document.status,
        "X-Rows-Returned": str(document.rows_returned),
        "X-Rows-Offset": str(offset),
        "X-Rows-Count": str(count),
        "X-Cache-Hit": "true" if document.metadata.cache_hit else "false",
        "X-Truncated": "true" if document.truncated else "false",
        "Content-Disposition": f'attachment; filename="{document.query_id}.{_EXTENSIONS[fmt]}"',
    }
    if fmt == "arrow" and offset == 0 and count == reader.num_rows and reader.path is not None:
        # Every row, as stored: the file already is the Arrow IPC stream the client asked for.
        headers["Content-Length"] = str(reader.raw_size)
        chunks = reader.raw_chunks()
    else:
        chunks = stream(fmt, reader.schema, reader.batches(offset, count))
    return Response(_closing(chunks, reader), status=status, mimetype=MEDIA_TYPES[fmt], headers=headers)


def _streamed_response(execution: Execution) -> Response:
    """A large Arrow result while DuckDB still produces it: the row count and truncation are not
    known yet (``GET .../query/{id}`` tells them once it is done)."""
    assert execution.stream is not None
    document = execution.result
    headers = {
        "X-Query-Id": document.query_id,
        "X-Query-Status": document.status,
        "X-Rows-Offset": "0",
        "X-Cache-Hit": "false",
        "Content-Disposition": f'attachment; filename="{document.query_id}.{_EXTENSIONS["arrow"]}"',
    }
    return Response(execution.stream.chunks(), status=200, mimetype=MEDIA_TYPES["arrow"], headers=headers)


def _answer(execution: Execution, fmt: str, offset: int = 0, limit: int | None = None) -> Response:
    document = execution.result
    if execution.stream is not None:
        return _streamed_response(execution)
    if execution.reader is not None:
        return _rows_response(execution, fmt, offset, limit, 200)
    if document.status in ("queued", "running"):
        return json_response(document, status=202)
    if fmt != "json":
        reason = "expired" if document.status == "completed" else document.status
        raise ConflictError(
            f"Query {document.query_id} has no rows to send as {fmt}: it is {reason}.",
            details={"query_id": document.query_id, "status": document.status, "reason": reason},
        )
    return json_response(document)


# -- operations ------------------------------------------------------------------------------


@blueprint.operation(f"{BASE}/query", "POST", summary="Execute a query", body=QueryRequest,
                     query=ExecuteFormatQuery, response=QueryResult, resource=RESOURCE, feature=FEATURE,
                     tags=TAGS)  # fmt: skip
def execute_query(principal: Principal, body: QueryRequest, query: ExecuteFormatQuery) -> Response:
    """One read-only statement on ``database`` (``warehouse`` or a connection id), parameters bound
    by the engine. Done within the server's short wait: 200 with the rows (in the format asked
    for). Longer, or ``"async": true``: 202 with ``query_id`` and status ``queued``/``running``;
    poll ``GET .../query/{query_id}``. A refused or failed query answers its 4xx with the reason.
    A large result asked for as Arrow whose query is still running a moment (0.25 s) after its
    first 2 MiB, or has made 64 MiB, is sent while the query runs: 200 with ``X-Query-Status:
    running`` and no ``X-Rows-Returned`` (``GET .../query/{query_id}`` has them once it is done); a
    query that fails meanwhile cuts the answer off."""
    fmt = _format(query.format)
    return _answer(service().execute(principal, body, stream=fmt == "arrow"), fmt)


@blueprint.operation(f"{BASE}/query/<query_id>", "GET", summary="Get a query's status and rows",
                     query=QueryPageQuery, response=QueryResult, resource=RESOURCE, feature=FEATURE,
                     tags=TAGS)  # fmt: skip
def get_query(principal: Principal, query_id: str, query: QueryPageQuery) -> Response:
    """The status; once completed, the rows ``offset``..``offset+limit`` (JSON: 1000 by default,
    at most 100000 per page; CSV/Arrow/Parquet: all rows from ``offset`` by default)."""
    fmt = _format(query.format)
    limit = query.limit
    if fmt == "json":
        limit = DEFAULT_PAGE if limit is None else min(limit, MAX_PAGE)
    return _answer(service().get(principal, query_id), fmt, query.offset, limit)


@blueprint.operation(f"{BASE}/query/<query_id>/cancel", "POST", summary="Cancel a query",
                     response=QueryResult, resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def cancel_query(principal: Principal, query_id: str) -> QueryResult:
    """Interrupts the engine, in whichever server process runs the query; answers the status
    (``cancelled``, or the final status it reached first)."""
    return service().cancel(principal, query_id)


@blueprint.operation(f"{BASE}/queries", "GET", summary="Query history", query=QueryHistoryQuery,
                     response=QueryHistory, resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def list_queries(principal: Principal, query: QueryHistoryQuery) -> QueryHistory:
    """Your queries, newest first; platform admins see everyone's."""
    return service().history(principal, query)
