"""The embedded DuckDB warehouse file."""

from __future__ import annotations

import os

from airflow_platform.exceptions import PlatformError
from airflow_platform.schemas.common import WarehouseHealth


def probe(path: str, lock_wait_s: float = 0.5) -> WarehouseHealth:
    """Open the warehouse the way queries do and run a trivial query.

    It goes through ``DuckDBWarehouse`` with the analytics queries' settings
    (``engines.warehouse_settings``): DuckDB refuses a second, differently configured open of
    a file inside one process, so every reader of the warehouse must use the same settings. A
    writer (a DataKit task) holding the file for longer than ``lock_wait_s`` shows as unhealthy
    with the reason.
    """
    if not os.path.exists(path):
        return WarehouseHealth(status="absent", detail="No warehouse file yet; it is created on first load.")
    import duckdb

    from airflow_platform.analytics.duckdb_engine import DuckDBWarehouse
    from airflow_platform.analytics.engines import warehouse_settings

    settings = warehouse_settings()
    engine = DuckDBWarehouse(
        path,
        memory_limit=settings.memory_limit,
        threads=settings.threads or os.cpu_count() or 1,
        lock_wait_s=lock_wait_s,
    )
    try:
        with engine.connect_read_only() as con:
            con.execute("SELECT 1").fetchone()
    except (PlatformError, duckdb.Error) as e:
        message = getattr(e, "message", None) or str(e)
        return WarehouseHealth(status="unhealthy", detail=message.splitlines()[0][:300])
    return WarehouseHealth(status="healthy")
