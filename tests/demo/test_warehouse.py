"""The demo warehouse: the reference's example queries run on it as written, and the raw customers
have exactly the shape the example DataKit expects."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from airflow_platform.analytics.guard import check_read_only
from airflow_platform.demo.warehouse import TABLES, seed
from tests import harness

#: The API reference's analytics examples, as written there (`:start_date` bound by the engine).
REFERENCE_QUERIES = [
    "SELECT customer_segment, COUNT(*) as customer_count, AVG(lifetime_value) as avg_ltv "
    "FROM gold.dim_customer WHERE is_active = true GROUP BY customer_segment ORDER BY avg_ltv DESC",
    "SELECT DATE_TRUNC('month', order_date) as month, region, product_category, SUM(total_amount) as revenue "
    "FROM gold.fact_orders WHERE order_date >= :start_date GROUP BY 1, 2, 3",
    """
    SELECT
        DATE_TRUNC('day', order_date) as date,
        COUNT(*) as order_count,
        SUM(total_amount) as revenue
    FROM gold.fact_orders
    WHERE order_date >= :start_date
    GROUP BY 1
    ORDER BY 1
    """,
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("demo") / "warehouse.duckdb")
    assert seed(path) == list(TABLES)
    return path


def test_every_reference_query_runs_as_written(demo: str) -> None:
    with duckdb.connect(demo, read_only=True) as con:
        for sql in REFERENCE_QUERIES:
            query = check_read_only(sql)
            rows = con.execute(
                query.normalized, {"start_date": "2024-01-01"} if query.parameters else None
            ).fetchall()
            assert rows, sql
        segments = con.execute(
            "SELECT customer_segment FROM gold.dim_customer WHERE is_active "
            "GROUP BY 1 ORDER BY avg(lifetime_value) DESC"
        ).fetchall()
    assert [s[0] for s in segments] == ["Diamond", "Gold", "Silver", "Bronze"]  # the reference's order


def test_raw_customers_have_the_datakits_exact_columns_and_mess(demo: str) -> None:
    with duckdb.connect(demo, read_only=True) as con:
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'bronze' "
            "AND table_name = 'customers_raw' ORDER BY column_index"
        ).fetchall()
        stats = con.execute(
            """
            SELECT count(*), count(DISTINCT customer_id),
                   count(*) FILTER (WHERE full_name <> trim(full_name)),
                   count(*) FILTER (WHERE email <> lower(email)),
                   count(*) FILTER (WHERE email IS NULL),
                   count(*) FILTER (WHERE TRY_CAST(signup_date AS DATE) IS NULL OR length(signup_date) <> 10)
            FROM bronze.customers_raw
            """
        ).fetchone()
    assert columns == [
        ("customer_id", "INTEGER"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("country", "VARCHAR"),
        ("signup_date", "VARCHAR"),
        ("updated_at", "TIMESTAMP"),
    ]
    total, distinct, untrimmed, mixed_case, null_emails, bad_dates = stats
    assert 200 <= total <= 1000 and distinct < total  # duplicates per customer_id
    assert untrimmed > 0 and mixed_case > 0 and null_emails > 0 and bad_dates == 0


def test_seed_is_idempotent_and_leaves_existing_tables_alone(demo: str) -> None:
    with duckdb.connect(demo) as con:
        con.execute("DELETE FROM gold.fact_orders WHERE order_id = 1")
        con.execute("DROP TABLE silver.orders")
        before = con.execute("SELECT count(*) FROM gold.fact_orders").fetchone()
    assert seed(demo) == ["silver.orders"]
    assert seed(demo) == []
    with duckdb.connect(demo, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM gold.fact_orders").fetchone() == before


def test_the_same_rows_every_time(tmp_path: Path, demo: str) -> None:
    other = str(tmp_path / "again.duckdb")
    seed(other)
    sql = "SELECT sum(hash(COLUMNS(*))) FROM bronze.customers_raw"
    with duckdb.connect(other, read_only=True) as a, duckdb.connect(demo, read_only=True) as b:
        assert a.execute(sql).fetchall() == b.execute(sql).fetchall()


def test_the_cli_seeds_the_configured_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    result = subprocess.run(
        [str(harness.VENV_BIN / "airflow-platform"), "demo", "seed", "--path", str(path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "created bronze.customers_raw" in result.stdout
    again = subprocess.run(
        [str(harness.VENV_BIN / "airflow-platform"), "demo", "seed", "--path", str(path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "already" in again.stdout
