"""Models shared by every area: the error envelope, pagination, health."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """Base of response models: tolerant of fields a newer server adds."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are a client mistake, so they are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(WireModel):
    code: str = Field(description="Machine-readable error code, e.g. RESOURCE_NOT_FOUND.")
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context.")
    request_id: str = Field(description="The X-Request-ID of the request, for support.")
    timestamp: datetime


class ErrorEnvelope(WireModel):
    """Every error answer of the platform has this shape."""

    error: ErrorBody


#: Largest `offset` a list accepts: beyond 64 bits the metadata DB fails the query (a 500, found by
#: fuzzing); 2^31-1 keeps every database's OFFSET type, and no list comes near it.
MAX_OFFSET = 2**31 - 1


class PageQuery(RequestModel):
    """`limit`/`offset` of every list call."""

    limit: int = Field(100, ge=1, le=1000, description="Number of items to return.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Number of items to skip.")


class ComponentHealth(WireModel):
    status: Literal["healthy", "unhealthy", "outdated", "absent"]
    detail: str | None = None


class MetadataDBHealth(ComponentHealth):
    dialect: str | None = None
    schema_revision: str | None = Field(
        default=None, description="Revision of the platform tables in the DB."
    )
    expected_revision: str | None = Field(default=None, description="Revision this package needs.")


class WarehouseHealth(ComponentHealth):
    engine: str = "duckdb"


class RateLimitHealth(WireModel):
    status: Literal["healthy", "degraded", "disabled"] = Field(
        description="``degraded``: the shared store failed and budgets are counted per process."
    )
    storage: str | None = Field(default=None, description="Storage scheme, e.g. memory or redis.")
    detail: str | None = None


class HealthResponse(WireModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str = Field(description="Version of the airflow-platform package.")
    airflow_version: str
    metadata_db: MetadataDBHealth
    warehouse: WarehouseHealth
    rate_limit: RateLimitHealth | None = Field(
        default=None, description="Rate-limit storage: shared, or the per-process fallback."
    )
