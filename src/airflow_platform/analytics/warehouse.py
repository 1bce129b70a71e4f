"""The embedded DuckDB warehouse file."""

from __future__ import annotations

import os
import time

from airflow_platform.schemas.common import WarehouseHealth


def probe(path: str, attempts: int = 3) -> WarehouseHealth:
    """Open the warehouse read-only and run a trivial query.

    A writer (a DataKit task) holds DuckDB's file lock for a moment; a few short retries ride
    that out rather than reporting the warehouse down.
    """
    if not os.path.exists(path):
        return WarehouseHealth(status="absent", detail="No warehouse file yet; it is created on first load.")
    import duckdb

    last_error = ""
    for attempt in range(attempts):
        try:
            with duckdb.connect(path, read_only=True) as con:
                con.execute("SELECT 1").fetchone()
            return WarehouseHealth(status="healthy")
        except duckdb.Error as e:
            last_error = str(e).splitlines()[0]
            time.sleep(0.05 * (attempt + 1))
    return WarehouseHealth(status="unhealthy", detail=last_error)
