"""The health of the platform: package and Airflow versions, metadata DB, warehouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from airflow_platform.schemas.common import (
    HealthResponse,
    MetadataDBHealth,
    RateLimitHealth,
    WarehouseHealth,
)
from airflow_platform.storage.migrator import Migrator
from airflow_platform.version import __version__


@dataclass
class HealthService:
    engine: Callable[[], sa.engine.Engine]
    airflow_version: str
    warehouse_probe: Callable[[], WarehouseHealth]
    rate_limit_probe: Callable[[], RateLimitHealth] | None = None

    def metadata_db(self) -> MetadataDBHealth:
        try:
            engine = self.engine()
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            status = Migrator(engine).status()
        except sa.exc.SQLAlchemyError as e:
            return MetadataDBHealth(status="unhealthy", detail=type(e).__name__)
        return MetadataDBHealth(
            status="healthy" if status.up_to_date else "outdated",
            dialect=engine.dialect.name,
            schema_revision=status.current,
            expected_revision=status.head,
            detail=None if status.up_to_date else "Run `airflow-platform db migrate`.",
        )

    def check(self) -> HealthResponse:
        db = self.metadata_db()
        warehouse = self.warehouse_probe()
        rate_limit = self.rate_limit_probe() if self.rate_limit_probe is not None else None
        # Per-process counting keeps serving, yet budgets are no longer shared: worth a "degraded".
        limits_ok = rate_limit is None or rate_limit.status != "degraded"
        overall: Literal["healthy", "degraded", "unhealthy"]
        if db.status == "unhealthy":
            overall = "unhealthy"
        elif db.status == "healthy" and warehouse.status in ("healthy", "absent") and limits_ok:
            overall = "healthy"
        else:
            overall = "degraded"
        return HealthResponse(
            status=overall,
            version=__version__,
            airflow_version=self.airflow_version,
            metadata_db=db,
            warehouse=warehouse,
            rate_limit=rate_limit,
        )
