"""The Analytics Query API on the wire: the reference's execute body and query document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from airflow_platform.schemas.common import MAX_OFFSET, RequestModel, WireModel

#: `queued` and `running` are not final; the others are.
QueryStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

#: What a typed parameter may declare (`{"type": "date", "value": "2024-01-01"}`).
ParameterType = Literal[
    "string", "integer", "number", "decimal", "boolean", "date", "timestamp", "time", "uuid", "list"
]
PARAMETER_TYPES: tuple[str, ...] = (
    "string", "integer", "number", "decimal", "boolean", "date", "timestamp", "time", "uuid", "list",
)  # fmt: skip

#: Result formats, by their `format=` name.
ResultFormat = Literal["json", "csv", "arrow", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}

DEFAULT_DATABASE = "warehouse"


class TypedParameter(RequestModel):
    """A parameter value with its type spelled out, for types JSON has no literal for."""

    type: ParameterType
    value: Any = None


ParameterValue = str | int | float | bool | None | list[str | int | float | bool | None] | TypedParameter


class QueryRequest(RequestModel):
    """`POST /api/v1/analytics/query`.

    `parameters` fill the query's `:name` placeholders. The engine binds them as values (they are
    never pasted into the SQL); a JSON string, number, boolean, null or list is typed as such, and
    `{"type": "date", "value": "2024-01-01"}` gives a value a type JSON lacks (date, timestamp,
    time, decimal, uuid). Parameters the query does not use are ignored; a missing one is a 400.
    """

    query: str = Field(min_length=1, max_length=100_000, description="One read-only SQL statement.")
    database: str = Field(
        DEFAULT_DATABASE,
        min_length=1,
        max_length=250,
        description='"warehouse" (the embedded DuckDB warehouse) or the id of an Airflow connection.',
    )
    limit: int = Field(1000, ge=0, description="Most rows to keep; the server caps it (analytics_max_rows).")
    timeout_seconds: float = Field(30, gt=0, description="The engine is interrupted after this long.")
    parameters: dict[str, ParameterValue] = Field(default_factory=dict, max_length=200)
    run_async: bool = Field(
        False,
        alias="async",
        description="Answer at once with the query_id and status `queued`/`running`; poll the status.",
    )

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @field_validator("parameters")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not name or len(name) > 128 or not (name[0].isalpha() or name[0] == "_"):
                raise ValueError(f"parameter name {name!r} must start with a letter or _ (at most 128 chars)")
            if not all(c.isalnum() or c == "_" for c in name):
                raise ValueError(f"parameter name {name!r} may hold letters, digits and _ only")
        return value


class ResultColumn(WireModel):
    name: str
    type: str = Field(description="The engine's type name, e.g. BIGINT, VARCHAR, DECIMAL(12,2).")


class QueryError(WireModel):
    """Why a query failed or was cancelled: the error envelope's code, message and details."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class QueryMetadata(WireModel):
    database: str
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema of the tables read (the first one when the query reads several).",
    )
    tables_accessed: list[str] = Field(
        default_factory=list,
        description="Tables read; those of `schema` by bare name, others as schema.table.",
    )
    bytes_scanned: int | None = Field(
        default=None,
        description=(
            "Warehouse: storage bytes of the tables read (DuckDB reports no per-query figure, so this is "
            "an upper bound); 0 on a cache hit; null where the engine does not say."
        ),
    )
    cache_hit: bool = False
    cached_query_id: str | None = Field(
        default=None, description="On a cache hit: the query whose result was reused."
    )


class QueryResult(WireModel):
    """A query's state and, once `completed`, its rows (a page of them on `GET`)."""

    query_id: str
    status: QueryStatus
    rows_returned: int | None = Field(default=None, description="Rows in the whole result.")
    execution_time_ms: float | None = None
    data: list[dict[str, Any]] | None = Field(
        default=None, description="Rows as objects (the page `offset`..`offset+limit` on GET)."
    )
    columns: list[ResultColumn] | None = None
    metadata: QueryMetadata
    error: QueryError | None = None
    query: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    truncated: bool = Field(False, description="The query had more rows than its limit.")
    offset: int = 0
    limit: int | None = Field(default=None, description="Rows asked for in this page.")
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    submitted_by: str
    tenant_id: str | None = None
    cancel_requested: bool = False
    result_available: bool = Field(
        False, description="The rows can be fetched (completed and not yet expired)."
    )


class QueryPageQuery(RequestModel):
    """`GET /api/v1/analytics/query/{query_id}`."""

    offset: int = Field(0, ge=0, description="Rows to skip.")
    limit: int | None = Field(
        default=None,
        ge=0,
        description="Rows to return; JSON: default 1000, at most 100000. Other formats: default all.",
    )
    format: ResultFormat | None = Field(
        default=None, description="json, csv, arrow or parquet; default from the Accept header, else json."
    )


class ExecuteFormatQuery(RequestModel):
    """Query string of `POST /api/v1/analytics/query`."""

    format: ResultFormat | None = Field(
        default=None,
        description="Answer a finished query's rows in this format (default: Accept, else json).",
    )


class QueryHistoryItem(WireModel):
    query_id: str
    status: QueryStatus
    query: str
    database: str
    rows_returned: int | None = None
    execution_time_ms: float | None = None
    cache_hit: bool = False
    submitted_at: datetime
    finished_at: datetime | None = None
    submitted_by: str
    tenant_id: str | None = None
    error: QueryError | None = None


class QueryHistoryQuery(RequestModel):
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    status: QueryStatus | None = None
    database: str | None = Field(default=None, max_length=250)


class QueryHistory(WireModel):
    queries: list[QueryHistoryItem]
    total_entries: int
