"""``client.analytics``: read-only SQL over the warehouse or a connection (``/api/v1/analytics``).

``query`` runs a statement and, when the server answers before the query finished (a long query,
or ``run_async=True``), polls ``GET /query/{id}`` until it has: callers get rows either way. A
failed or cancelled query raises the exception of its error code. Results can refresh, wait,
cancel, and come back typed through Arrow (``to_arrow``/``to_pandas``, when pyarrow is installed).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import PrivateAttr
from typing_extensions import Self

from airflow_platform import exceptions as exc
from airflow_platform.schemas.analytics import (
    FINAL_STATUSES,
    MEDIA_TYPES,
    PARAMETER_TYPES,
    QueryHistory,
    QueryHistoryItem,
    QueryRequest,
    QueryResult,
)
from airflow_platform.schemas.saved_queries import SavedQuery, SavedQueryList
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op, drop_none
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated

if TYPE_CHECKING:
    import pandas
    import pyarrow

BASE = "/api/v1/analytics"
QUERY = f"{BASE}/query"
HISTORY = f"{BASE}/queries"
SAVED = f"{BASE}/saved-queries"
#: The most rows one JSON page may hold (the server's cap).
MAX_JSON_PAGE = 100_000
DownloadFormat = Literal["json", "csv", "arrow", "parquet"]
QueryStatusName = Literal["queued", "running", "completed", "failed", "cancelled"]


def wire_parameter(value: Any) -> Any:
    """A Python value as the API's parameter: JSON types as they are; ``date``, ``datetime``,
    ``time``, ``Decimal`` and ``UUID`` as ``{"type", "value"}``, so the engine binds the real type."""
    if isinstance(value, dt.datetime):
        return {"type": "timestamp", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, dt.time):
        return {"type": "time", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, uuid.UUID):
        return {"type": "uuid", "value": str(value)}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return value


def wire_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: wire_parameter(value) for name, value in (parameters or {}).items()}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "list"
    return "string"


def parameter_definitions(parameters: Any) -> list[dict[str, Any]] | None:
    """Saved-query parameter declarations from what callers have at hand: the reference's list of
    ``{name, type, default, required}``, or a result's ``parameters`` dict (``{name: value}``, values
    plain or ``{"type", "value"}``), whose values become typed defaults."""
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        declared = []
        for name, value in wire_parameters(parameters).items():
            if isinstance(value, Mapping) and "type" in value:
                declared.append({"name": name, "type": value["type"], "default": value.get("value")})
            else:
                declared.append({"name": name, "type": _json_type(value), "default": value})
        return declared
    declared = [dict(item) if isinstance(item, Mapping) else item.model_dump() for item in parameters]
    for item in declared:
        if item.get("type", "string") not in PARAMETER_TYPES:
            raise exc.ValidationError(
                f"Parameter {item.get('name')!r}: type {item.get('type')!r} is not one of "
                f"{', '.join(PARAMETER_TYPES)}.",
                details={"parameter": item.get("name")},
            )
    return declared


def saved_query_body(**fields: Any) -> dict[str, Any]:
    body = {key: value for key, value in fields.items() if value is not None}
    if "parameters" in body:
        body["parameters"] = parameter_definitions(body["parameters"])
    return body


def query_body(
    sql: str,
    parameters: Mapping[str, Any] | None,
    database: str | None,
    limit: int | None,
    timeout_seconds: float | None,
    run_async: bool,
) -> QueryRequest:
    fields: dict[str, Any] = {"query": sql, "parameters": wire_parameters(parameters)}
    if database is not None:
        fields["database"] = database
    if limit is not None:
        fields["limit"] = limit
    if timeout_seconds is not None:
        fields["timeout_seconds"] = timeout_seconds
    if run_async:
        fields["async"] = True
    return validated(QueryRequest, **fields)


def error_of(result: QueryResult) -> exc.PlatformError:
    """The exception a failed or cancelled query stands for (its error code's class)."""
    error = result.error
    code = (
        error.code
        if error is not None
        else ("CANCELLED" if result.status == "cancelled" else "INTERNAL_ERROR")
    )
    message = error.message if error is not None else f"Query {result.query_id} {result.status}."
    details = {"query_id": result.query_id, "status": result.status, **(error.details if error else {})}
    cls = exc.ERRORS_BY_CODE.get(code, exc.ServerError)
    raised = cls(message, details=details)
    if raised.code != code:
        raised.__dict__["code"] = code  # keep the server's own code (e.g. QUERY_TIMEOUT)
    return raised


def _arrow_table(data: bytes) -> pyarrow.Table:
    try:
        import pyarrow as pa
    except ImportError:
        raise ImportError("to_arrow() needs pyarrow: pip install pyarrow") from None
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _has_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _require_pandas() -> None:
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        raise ImportError("to_pandas() needs pandas: pip install pandas")


def _frame(result: QueryResult) -> pandas.DataFrame:
    _require_pandas()
    import pandas as pd

    return pd.DataFrame(result.data or [], columns=[c.name for c in result.columns or []] or None)


class _BoundResult(QueryResult):
    """A query result that remembers its client, so it can refresh, wait and fetch its rows."""

    _analytics: Any = PrivateAttr(default=None)
    _page_limit: int | None = PrivateAttr(default=None)

    @classmethod
    def bound(cls, data: Any, analytics: Any, page_limit: int | None = None) -> Self:
        result = cls.model_validate(data)
        result._analytics = analytics
        result._page_limit = page_limit
        return result

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"

    def raise_for_status(self) -> Self:
        """Raise the query's error when it failed or was cancelled; return it otherwise."""
        if self.status in ("failed", "cancelled"):
            raise error_of(self)
        return self

    def _take(self, fresh: QueryResult) -> None:
        self.__dict__.update(fresh.__dict__)
        object.__setattr__(self, "__pydantic_extra__", fresh.__pydantic_extra__)
        object.__setattr__(self, "__pydantic_fields_set__", set(fresh.__pydantic_fields_set__))


def _rows_limit(page_limit: int | None) -> int | None:
    """Polls ask for as many rows as the query kept, within one JSON page."""
    return min(page_limit, MAX_JSON_PAGE) if page_limit is not None else None


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _check_deadline(result: QueryResult, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"Query {result.query_id} is still {result.status}")


class QueryResultHandle(_BoundResult):
    """What ``client.analytics.query``/``get`` return: the reference's result, plus methods."""

    def refresh(self) -> Self:
        self._take(self._analytics.get(self.query_id, limit=_rows_limit(self._page_limit)))
        return self

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 0.5,
        on_poll: Callable[[QueryResultHandle], None] | None = None,
    ) -> Self:
        """Poll until the query completed, failed or was cancelled; ``TimeoutError`` after ``timeout``."""
        deadline = _deadline(timeout)
        while not self.finished:
            _check_deadline(self, deadline)
            time.sleep(poll_interval)
            self.refresh()
            if on_poll is not None:
                on_poll(self)
        return self

    def cancel(self) -> Self:
        self._take(self._analytics.cancel(self.query_id))
        return self

    def to_arrow(self) -> pyarrow.Table:
        """Every row, typed, from the server's Arrow stream (needs pyarrow)."""
        return _arrow_table(self._analytics.download(self.query_id, format="arrow"))

    def to_pandas(self) -> pandas.DataFrame:
        """Every row as a DataFrame (needs pandas; typed through Arrow when pyarrow is installed,
        else built from ``data``)."""
        if not _has_pyarrow():
            return _frame(self)
        _require_pandas()
        return self.to_arrow().to_pandas()


class AsyncQueryResultHandle(_BoundResult):
    async def refresh(self) -> Self:
        self._take(await self._analytics.get(self.query_id, limit=_rows_limit(self._page_limit)))
        return self

    async def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 0.5,
        on_poll: Callable[[AsyncQueryResultHandle], None] | None = None,
    ) -> Self:
        deadline = _deadline(timeout)
        while not self.finished:
            _check_deadline(self, deadline)
            await anyio.sleep(poll_interval)
            await self.refresh()
            if on_poll is not None:
                on_poll(self)
        return self

    async def cancel(self) -> Self:
        self._take(await self._analytics.cancel(self.query_id))
        return self

    async def to_arrow(self) -> pyarrow.Table:
        return _arrow_table(await self._analytics.download(self.query_id, format="arrow"))

    async def to_pandas(self) -> pandas.DataFrame:
        if not _has_pyarrow():
            return _frame(self)
        _require_pandas()
        return (await self.to_arrow()).to_pandas()


class QueryHistoryPage(SyncPage[QueryHistoryItem]):
    @property
    def queries(self) -> list[QueryHistoryItem]:
        return self.items


class AsyncQueryHistoryPage(AsyncPage[QueryHistoryItem]):
    @property
    def queries(self) -> list[QueryHistoryItem]:
        return self.items


class SavedQueryPage(SyncPage[SavedQuery]):
    @property
    def saved_queries(self) -> list[SavedQuery]:
        return self.items


class AsyncSavedQueryPage(AsyncPage[SavedQuery]):
    @property
    def saved_queries(self) -> list[SavedQuery]:
        return self.items


def _query_path(query_id: str) -> str:
    return f"{QUERY}/{seg(query_id)}"


def _saved_path(saved_query_id: str) -> str:
    return f"{SAVED}/{seg(saved_query_id)}"


class _AnalyticsOps(Ops):
    def _execute(self, body: QueryRequest) -> Op[Any]:
        # Running a query is never retried: it may have run (and counts against the hourly budget).
        return (
            yield Call("POST", QUERY, json=body.model_dump(mode="json", by_alias=True, exclude_unset=True))
        )

    def _get(self, query_id: str, offset: int, limit: int | None) -> Op[Any]:
        params = drop_none({"offset": offset or None, "limit": limit})
        return (yield Call("GET", _query_path(query_id), params=params or None))

    def _cancel(self, query_id: str) -> Op[Any]:
        # Cancelling twice is harmless: a finished query answers as it is.
        return (yield Call("POST", f"{_query_path(query_id)}/cancel", idempotent=True))

    def _download(self, query_id: str, format: DownloadFormat, offset: int, limit: int | None) -> Op[bytes]:
        params = drop_none({"format": format, "offset": offset or None, "limit": limit})
        data = yield Call(
            "GET",
            _query_path(query_id),
            params=params,
            expect="bytes",
            accept=MEDIA_TYPES[format],
            # Binary formats compress badly and cost the server seconds to gzip (NOTES.md).
            headers={"Accept-Encoding": "identity"} if format in ("arrow", "parquet") else None,
        )
        return bytes(data)

    def _history(self, limit: int, status: str | None, database: str | None) -> PageOp[QueryHistoryItem]:
        def op(offset: int) -> Op[PageData[QueryHistoryItem]]:
            params = drop_none({"limit": limit, "offset": offset, "status": status, "database": database})
            page = QueryHistory.model_validate((yield Call("GET", HISTORY, params=params)))
            return PageData(page.queries, page.total_entries, limit, offset)

        return op

    def _save(self, body: dict[str, Any]) -> Op[SavedQuery]:
        return SavedQuery.model_validate((yield Call("POST", SAVED, json=body)))

    def _saved(self, saved_query_id: str) -> Op[SavedQuery]:
        return SavedQuery.model_validate((yield Call("GET", _saved_path(saved_query_id))))

    def _list_saved(self, limit: int, tags: list[str] | None, search: str | None) -> PageOp[SavedQuery]:
        tag_param = ",".join(tags) if tags else None

        def op(offset: int) -> Op[PageData[SavedQuery]]:
            params = drop_none({"limit": limit, "offset": offset, "tags": tag_param, "search": search})
            page = SavedQueryList.model_validate((yield Call("GET", SAVED, params=params)))
            return PageData(page.saved_queries, page.total_entries, limit, offset)

        return op

    def _update_saved(self, saved_query_id: str, body: dict[str, Any]) -> Op[SavedQuery]:
        return SavedQuery.model_validate((yield Call("PATCH", _saved_path(saved_query_id), json=body)))

    def _delete_saved(self, saved_query_id: str) -> Op[None]:
        yield Call("DELETE", _saved_path(saved_query_id), expect="none")

    def _execute_saved(self, saved_query_id: str, body: dict[str, Any]) -> Op[Any]:
        return (yield Call("POST", f"{_saved_path(saved_query_id)}/execute", json=body))


def execute_body(
    parameters: Mapping[str, Any] | None, limit: int | None, timeout_seconds: float | None, run_async: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"parameters": wire_parameters(parameters)}
    if limit is not None:
        body["limit"] = limit
    if timeout_seconds is not None:
        body["timeout_seconds"] = timeout_seconds
    if run_async:
        body["async"] = True
    return body


class Analytics(_AnalyticsOps, SyncResource):
    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        database: str | None = None,
        limit: int | None = None,
        timeout_seconds: float | None = None,
        run_async: bool = False,
        wait: bool = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> QueryResultHandle:
        """Run one read-only statement; ``:name`` placeholders take ``parameters`` (bound, typed).

        With ``wait`` (default) the answer is final: rows in ``.data``, or the query's error raised
        (``ValidationError``, ``ServiceUnavailableError``, ...). ``run_async=True, wait=False``
        answers at once with ``.query_id``; ``.wait()`` later."""
        body = query_body(sql, parameters, database, limit, timeout_seconds, run_async)
        result = QueryResultHandle.bound(self._run(self._execute(body)), self, body.limit)
        if wait:
            result.wait(timeout=wait_timeout, poll_interval=poll_interval)
        return result.raise_for_status()

    def get(self, query_id: str, *, offset: int = 0, limit: int | None = None) -> QueryResultHandle:
        """A query's state and, once completed, rows ``offset``..``offset+limit`` (server default 1000)."""
        return QueryResultHandle.bound(self._run(self._get(query_id, offset, limit)), self, limit)

    def cancel(self, query_id: str) -> QueryResultHandle:
        """Interrupt a queued or running query; a finished one is answered as it is."""
        return QueryResultHandle.bound(self._run(self._cancel(query_id)), self)

    def download(
        self, query_id: str, *, format: DownloadFormat = "csv", offset: int = 0, limit: int | None = None
    ) -> bytes:
        """A completed query's rows as CSV, Arrow IPC stream, Parquet or JSON bytes (all rows by default)."""
        return self._run(self._download(query_id, format, offset, limit))

    def history(
        self,
        *,
        status: QueryStatusName | None = None,
        database: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> QueryHistoryPage:
        """Your queries, newest first (platform admins: everyone's)."""
        return self._page(QueryHistoryPage, self._history(limit, status, database), offset)

    def save_query(
        self,
        name: str,
        query: str,
        *,
        description: str | None = None,
        parameters: Any = None,
        tags: list[str] | None = None,
        schedule: str | None = None,
        output_format: Literal["csv", "parquet", "json"] | None = None,
        destination: str | None = None,
        database: str | None = None,
    ) -> SavedQuery:
        """Save a query for reuse (``schedule`` + ``destination``: exported on a schedule).

        ``parameters`` is the reference's list of ``{name, type, default, required}``, or a result's
        ``.parameters`` dict, whose values become the defaults."""
        body = saved_query_body(
            name=name, query=query, description=description, parameters=parameters, tags=tags,
            schedule=schedule, output_format=output_format, destination=destination, database=database,
        )  # fmt: skip
        return self._run(self._save(body))

    def get_saved_query(self, saved_query_id: str) -> SavedQuery:
        return self._run(self._saved(saved_query_id))

    def list_saved_queries(
        self, *, tags: list[str] | None = None, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> SavedQueryPage:
        return self._page(SavedQueryPage, self._list_saved(limit, tags, search), offset)

    def update_saved_query(self, saved_query_id: str, **fields: Any) -> SavedQuery:
        """PATCH: only the fields given change."""
        return self._run(self._update_saved(saved_query_id, saved_query_body(**fields)))

    def delete_saved_query(self, saved_query_id: str) -> None:
        self._run(self._delete_saved(saved_query_id))

    def execute_saved_query(
        self,
        saved_query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        timeout_seconds: float | None = None,
        run_async: bool = False,
        wait: bool = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> QueryResultHandle:
        """Run a saved query; ``parameters`` override its defaults. Waits and raises like ``query``."""
        body = execute_body(parameters, limit, timeout_seconds, run_async)
        result = QueryResultHandle.bound(self._run(self._execute_saved(saved_query_id, body)), self, limit)
        if wait:
            result.wait(timeout=wait_timeout, poll_interval=poll_interval)
        return result.raise_for_status()


class AsyncAnalytics(_AnalyticsOps, AsyncResource):
    async def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        database: str | None = None,
        limit: int | None = None,
        timeout_seconds: float | None = None,
        run_async: bool = False,
        wait: bool = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> AsyncQueryResultHandle:
        body = query_body(sql, parameters, database, limit, timeout_seconds, run_async)
        result = AsyncQueryResultHandle.bound(await self._run(self._execute(body)), self, body.limit)
        if wait:
            await result.wait(timeout=wait_timeout, poll_interval=poll_interval)
        return result.raise_for_status()

    async def get(
        self, query_id: str, *, offset: int = 0, limit: int | None = None
    ) -> AsyncQueryResultHandle:
        return AsyncQueryResultHandle.bound(await self._run(self._get(query_id, offset, limit)), self, limit)

    async def cancel(self, query_id: str) -> AsyncQueryResultHandle:
        return AsyncQueryResultHandle.bound(await self._run(self._cancel(query_id)), self)

    async def download(
        self, query_id: str, *, format: DownloadFormat = "csv", offset: int = 0, limit: int | None = None
    ) -> bytes:
        return await self._run(self._download(query_id, format, offset, limit))

    def history(
        self,
        *,
        status: QueryStatusName | None = None,
        database: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[QueryHistoryItem, AsyncQueryHistoryPage]:
        return self._paginator(AsyncQueryHistoryPage, self._history(limit, status, database), offset)

    async def save_query(
        self,
        name: str,
        query: str,
        *,
        description: str | None = None,
        parameters: Any = None,
        tags: list[str] | None = None,
        schedule: str | None = None,
        output_format: Literal["csv", "parquet", "json"] | None = None,
        destination: str | None = None,
        database: str | None = None,
    ) -> SavedQuery:
        body = saved_query_body(
            name=name, query=query, description=description, parameters=parameters, tags=tags,
            schedule=schedule, output_format=output_format, destination=destination, database=database,
        )  # fmt: skip
        return await self._run(self._save(body))

    async def get_saved_query(self, saved_query_id: str) -> SavedQuery:
        return await self._run(self._saved(saved_query_id))

    def list_saved_queries(
        self, *, tags: list[str] | None = None, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> AsyncPaginator[SavedQuery, AsyncSavedQueryPage]:
        return self._paginator(AsyncSavedQueryPage, self._list_saved(limit, tags, search), offset)

    async def update_saved_query(self, saved_query_id: str, **fields: Any) -> SavedQuery:
        return await self._run(self._update_saved(saved_query_id, saved_query_body(**fields)))

    async def delete_saved_query(self, saved_query_id: str) -> None:
        await self._run(self._delete_saved(saved_query_id))

    async def execute_saved_query(
        self,
        saved_query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        timeout_seconds: float | None = None,
        run_async: bool = False,
        wait: bool = True,
        wait_timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> AsyncQueryResultHandle:
        body = execute_body(parameters, limit, timeout_seconds, run_async)
        data = await self._run(self._execute_saved(saved_query_id, body))
        result = AsyncQueryResultHandle.bound(data, self, limit)
        if wait:
            await result.wait(timeout=wait_timeout, poll_interval=poll_interval)
        return result.raise_for_status()
