"""The engine for SQL connections, on real SQLite files (PostgreSQL: tests/e2e/test_analytics_postgres.py).

Text the guard never saw goes straight to the engine here: it must still be read-only.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from airflow_platform.analytics.duckdb_engine import QueryCancelledError, QueryTimeoutError
from airflow_platform.analytics.engines import SQLConnectionEngine
from airflow_platform.analytics.guard import ReadOnlyQuery, check_read_only
from airflow_platform.exceptions import ServiceUnavailableError, ValidationError

SLOW = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
    "SELECT count(*) FROM r"
)


@pytest.fixture
def engine(tmp_path: Path) -> SQLConnectionEngine:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE sales (id INTEGER, region TEXT, amount REAL)")
        con.executemany(
            "INSERT INTO sales VALUES (?, ?, ?)", [(i, "EMEA" if i % 2 else "NA", i * 1.5) for i in range(50)]
        )
    return SQLConnectionEngine("shop", "sqlite", lambda: sqlite3.connect(path))


def unchecked(sql: str) -> ReadOnlyQuery:
    return ReadOnlyQuery(
        sql=sql, normalized=sql, dialect="sqlite", kind="select", tables=(), schemas=(), parameters=()
    )


def test_reads_with_bound_parameters_and_a_row_limit(engine: SQLConnectionEngine) -> None:
    query = check_read_only("SELECT id, amount FROM sales WHERE region = :region ORDER BY id", "sqlite")
    run = engine.run(query, {"region": "EMEA"}, limit=10, timeout_s=10, run_id="r1")
    assert run.table.num_rows == 10 and run.truncated and run.columns == ["id", "amount"]
    assert run.table.column("id").to_pylist()[:3] == [1, 3, 5]
    none = engine.run(query, {"region": "EMEA' OR '1'='1"}, limit=10, timeout_s=10, run_id="r2")
    assert none.table.num_rows == 0 and none.table.column_names == ["id", "amount"]
    with pytest.raises(ValidationError, match=":region"):
        engine.run(query, {}, limit=10, timeout_s=10, run_id="r3")


@pytest.mark.parametrize(
    "sql",
    ["INSERT INTO sales VALUES (1, 'x', 1)", "DELETE FROM sales", "CREATE TABLE t (a)", "DROP TABLE sales"],
)
def test_the_engine_itself_refuses_writes(engine: SQLConnectionEngine, sql: str) -> None:
    with pytest.raises(ValidationError) as info:
        engine.run(unchecked(sql), {}, limit=10, timeout_s=10, run_id="w")
    assert info.value.details["reason"] == "read_only"
    count = engine.run(unchecked("SELECT count(*) AS n FROM sales"), {}, limit=1, timeout_s=10, run_id="c")
    assert count.table.to_pylist() == [{"n": 50}]


def test_timeout_and_cancel_interrupt_the_query(engine: SQLConnectionEngine) -> None:
    with pytest.raises(QueryTimeoutError):
        engine.run(unchecked(SLOW), {}, limit=1, timeout_s=0.3, run_id="t")
    stopper = threading.Timer(0.3, lambda: engine.cancel("c"))
    stopper.start()
    with pytest.raises(QueryCancelledError):
        engine.run(unchecked(SLOW), {}, limit=1, timeout_s=30, run_id="c")
    assert engine.cancel("nothing-running") is False


def test_a_connection_that_cannot_be_made_is_503() -> None:
    def refuse() -> sqlite3.Connection:
        raise OSError("connection refused")

    broken = SQLConnectionEngine("down", "sqlite", refuse)
    with pytest.raises(ServiceUnavailableError, match="down"):
        broken.run(unchecked("SELECT 1"), {}, limit=1, timeout_s=5, run_id="d")
