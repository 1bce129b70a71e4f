"""Saved queries on the wire: the reference's save body, the saved query, and its execute body.

The SDK sends and reads these same models, so the server and the client cannot drift. What needs
the server's state (the SQL against its database's guard, defaults against their types, the
destination against the allowed folders, unique names) is checked by the service; what a body
says on its own (names, types, a cron schedule, a known scheme) is checked here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from airflow_platform.schemas.analytics import DEFAULT_DATABASE, ParameterType, ParameterValue
from airflow_platform.schemas.common import PageQuery, RequestModel, WireModel
from airflow_platform.schemas.datakits import valid_schedule

OutputFormat = Literal["csv", "parquet", "json"]
OUTPUT_FORMATS: tuple[str, ...] = ("csv", "parquet", "json")
#: File extension of each export format.
EXTENSIONS: dict[str, str] = {"csv": "csv", "parquet": "parquet", "json": "json"}
#: Parameters a scheduled run fills from the DAG run when the query declares them.
RUN_PARAMETERS: tuple[str, ...] = ("run_date", "logical_date", "data_interval_start", "data_interval_end")
#: The only types a run parameter may have: the run's value is a date or a timestamp.
RUN_PARAMETER_TYPES: tuple[str, ...] = ("date", "timestamp", "string")
DESTINATION_SCHEMES: tuple[str, ...] = ("file", "s3")
PARAMETER_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


def dag_id_for(saved_query_id: str) -> str:
    return f"saved_query__{saved_query_id}"


def slugify(name: str) -> str:
    """The name as a file-name part: lower-case letters and digits joined by single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100].strip("-")


class SavedQueryParameter(WireModel):
    """A declared parameter as the server answers it."""

    name: str
    type: str = "string"
    default: Any = None
    required: bool = False
    description: str | None = None


class ParameterDeclaration(RequestModel):
    """One ``:name`` of the query: its type, default and whether a value must be given."""

    name: str = Field(pattern=PARAMETER_NAME, description="The placeholder's name, without the colon.")
    type: ParameterType = Field("string", description="How values are typed before they are bound.")
    default: Any = Field(
        None, description="Used when an execute call gives no value (and by scheduled runs)."
    )
    required: bool = Field(False, description="An execute call must give a value unless there is a default.")
    description: str | None = Field(default=None, max_length=500)


def _check_tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    bad = [t for t in value if not t or len(t) > 50 or t != t.strip()]
    if bad:
        raise ValueError(f"tags are 1 to 50 characters without surrounding blanks: {bad!r}")
    return list(dict.fromkeys(value))


def _check_parameters(value: list[ParameterDeclaration] | None) -> list[ParameterDeclaration] | None:
    if value is None:
        return None
    seen: set[str] = set()
    for item in value:
        if item.name in seen:
            raise ValueError(f"parameter {item.name!r} is declared twice")
        seen.add(item.name)
    return value


def _check_schedule(value: str | None) -> str | None:
    if value is not None and not valid_schedule(value):
        raise ValueError(
            f"schedule {value!r} is neither a cron expression ('0 8 1 * *') nor an Airflow preset "
            "('@daily', '@hourly', ...)"
        )
    return value


def _check_destination(value: str | None) -> str | None:
    if value is None:
        return None
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in DESTINATION_SCHEMES:
        raise ValueError(
            f"destination {value!r} is not a file:// or s3:// URI (e.g. s3://reports/monthly/ or "
            "file:///srv/airflow/platform/exports/monthly/)"
        )
    return value


def _check_name(value: str | None) -> str | None:
    if value is not None and not slugify(value):
        raise ValueError("a name needs at least one letter or digit (exports are named after it)")
    return value


class SavedQueryCreate(RequestModel):
    """``POST /api/v1/analytics/saved-queries``: the reference's body, plus ``database``."""

    name: str = Field(
        min_length=1, max_length=200, description="Unique in your tenant (case and punctuation aside)."
    )
    description: str | None = Field(default=None, max_length=2000)
    query: str = Field(min_length=1, max_length=100_000, description="One read-only SQL statement.")
    database: str = Field(
        DEFAULT_DATABASE,
        min_length=1,
        max_length=250,
        description='"warehouse" (the embedded DuckDB warehouse) or the id of an Airflow connection.',
    )
    parameters: list[ParameterDeclaration] = Field(
        default_factory=list, max_length=100, description="Every :name of the query, and only those."
    )
    tags: list[str] = Field(default_factory=list, max_length=20)
    schedule: str | None = Field(
        default=None,
        max_length=120,
        description=(
            "Cron expression or Airflow preset: export the result on this schedule (needs a destination)."
        ),
    )
    output_format: OutputFormat | None = Field(
        default=None, description="Format of the scheduled exports: csv (default), parquet or json."
    )
    destination: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "Folder the scheduled exports go to: s3://bucket/prefix/ (needs the S3 extra on the workers) or "
            "file:///<a folder under [platform] export_allowed_paths>/. One file per run: "
            "<name-slug>_<YYYY-MM-DD>.<format>."
        ),
    )

    _tags = field_validator("tags")(_check_tags)
    _parameters = field_validator("parameters")(_check_parameters)
    _schedule = field_validator("schedule")(_check_schedule)
    _destination = field_validator("destination")(_check_destination)
    _name = field_validator("name")(_check_name)


class SavedQueryUpdate(RequestModel):
    """``PATCH``: fields left out stay as they are; ``null`` clears description, schedule,
    output_format and destination (no schedule: no more exports)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    query: str | None = Field(default=None, min_length=1, max_length=100_000)
    database: str | None = Field(default=None, min_length=1, max_length=250)
    parameters: list[ParameterDeclaration] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=20)
    schedule: str | None = Field(default=None, max_length=120)
    output_format: OutputFormat | None = None
    destination: str | None = Field(default=None, max_length=1000)

    _tags = field_validator("tags")(_check_tags)
    _parameters = field_validator("parameters")(_check_parameters)
    _schedule = field_validator("schedule")(_check_schedule)
    _destination = field_validator("destination")(_check_destination)
    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _not_null(self) -> SavedQueryUpdate:
        cleared = [f for f in ("name", "query", "database", "parameters", "tags")
                   if f in self.model_fields_set and getattr(self, f) is None]  # fmt: skip
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self


class SavedQuery(WireModel):
    """A saved query as the server answers it (the save body plus registry facts)."""

    id: str
    name: str
    description: str | None = None
    query: str
    database: str | None = None
    parameters: list[SavedQueryParameter] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    schedule: str | None = None
    output_format: str | None = None
    destination: str | None = None
    dag_id: str | None = Field(default=None, description="The export DAG, while a schedule is set.")
    tenant_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


class SavedQueryList(WireModel):
    saved_queries: list[SavedQuery]
    total_entries: int | None = None


class SavedQueryListQuery(PageQuery):
    tags: list[str] = Field(
        default_factory=list, description="Only saved queries with all these tags (comma-separated)."
    )
    search: str | None = Field(default=None, max_length=200, description="In name and description.")


class SavedQueryExecute(RequestModel):
    """``POST /api/v1/analytics/saved-queries/{id}/execute``.

    ``parameters`` override the declared defaults; each is typed as declared (a value that does not
    fit is a 400), a required one without a default must be given, an undeclared one is refused."""

    parameters: dict[str, ParameterValue] = Field(default_factory=dict, max_length=200)
    limit: int = Field(1000, ge=0, description="Most rows to keep; the server caps it (analytics_max_rows).")
    timeout_seconds: float = Field(30, gt=0, description="The engine is interrupted after this long.")
    run_async: bool = Field(
        False,
        alias="async",
        description="Answer at once with the query_id and status `queued`/`running`; poll the status.",
    )

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)
