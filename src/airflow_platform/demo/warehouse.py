"""The demo warehouse: the tables the API reference's examples read, with deterministic data.

* `bronze.customers_raw` — what an ingestion would land: duplicates per `customer_id` (older and
  newer `updated_at`), untrimmed names, mixed-case e-mails, some NULL e-mails, `signup_date` as
  ISO text. The example DataKit turns it into `silver.customers`.
* `bronze.customers`, `bronze.orders` — the inputs of the reference's `customer-360` DataKit.
* `silver.orders` — orders cleaned (refunds dropped, amounts as DECIMAL).
* `gold.dim_customer`, `gold.fact_orders` — what the Analytics Query examples read:
  segments Diamond/Gold/Silver/Bronze with `lifetime_value` and `is_active`; orders of 2024 with
  `order_date`, `region`, `product_category`, `total_amount`.

`seed` is idempotent: it creates the schemas and each table that is missing, and leaves a table
that exists alone (a DataKit may have rewritten it since). Sizes: 300 raw customer rows for 240
customers, 5,000 customers, 60,000 orders. Values come from hashes of row numbers, so every seed
of an empty warehouse produces the same rows.
"""

from __future__ import annotations

import duckdb

from airflow_platform.analytics.access import open_for_writing

__all__ = ["TABLES", "seed"]

#: Table -> the statement that fills it (a SELECT; `seed` wraps it in CREATE TABLE ... AS).
TABLES: dict[str, str] = {
    "bronze.customers_raw": """
        WITH base AS (
            SELECT range AS n, 1 + range % 240 AS customer_id, range >= 240 AS newer
            FROM range(300)
        )
        SELECT
            customer_id::INTEGER AS customer_id,
            CASE h(n, 'pad') % 3 WHEN 0 THEN '  ' ELSE '' END
                || ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken'][
                    1 + customer_id % 8]
                || ' '
                || ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson'][
                    1 + (customer_id // 8) % 8]
                || CASE h(n, 'tail') % 4 WHEN 0 THEN '   ' ELSE '' END AS full_name,
            CASE
                WHEN customer_id % 17 = 0 THEN NULL
                WHEN newer THEN 'Customer' || customer_id || '@Example.COM'
                ELSE 'customer' || customer_id || '@example.com'
            END::VARCHAR AS email,
            ['DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL'][1 + h(customer_id, 'country') % 8]::VARCHAR
                AS country,
            strftime(DATE '2021-01-01' + (h(customer_id, 'signup') % 1200)::INTEGER, '%Y-%m-%d')::VARCHAR
                AS signup_date,
            (TIMESTAMP '2024-01-01 08:00:00'
                + to_minutes((h(n, 'updated') % 100000)::BIGINT)
                + CASE WHEN newer THEN INTERVAL 200 DAY ELSE INTERVAL 0 DAY END)::TIMESTAMP AS updated_at
        FROM base
        ORDER BY n
    """,
    "bronze.customers": """
        SELECT
            range::INTEGER AS customer_id,
            'Customer ' || range AS name,
            'customer' || range || '@example.com' AS email,
            ['DE', 'FR', 'US', 'GB', 'JP', 'BR', 'IN', 'NL'][1 + h(range, 'country') % 8] AS country,
            DATE '2020-01-01' + (h(range, 'signup') % 1500)::INTEGER AS signup_date
        FROM range(1, 5000 + 1)
    """,
    "bronze.orders": """
        SELECT
            range::BIGINT AS order_id,
            (1 + h(range, 'customer') % 5000)::INTEGER AS customer_id,
            TIMESTAMP '2024-01-01 00:00:00' + to_seconds((h(range, 'at') % 31622400)::BIGINT) AS ordered_at,
            ['EMEA', 'NA', 'APAC', 'LATAM'][1 + h(range, 'region') % 4] AS region,
            ['electronics', 'books', 'home', 'toys', 'sports'][1 + h(range, 'category') % 5]
                AS product_category,
            ((5 + h(range, 'amount') % 49500) / 100.0)::DOUBLE AS amount,
            CASE WHEN h(range, 'refund') % 25 = 0 THEN 'refunded' ELSE 'paid' END AS status
        FROM range(1, 60000 + 1)
    """,
    "silver.orders": """
        SELECT order_id, customer_id, ordered_at::DATE AS order_date, region, product_category,
               amount::DECIMAL(12, 2) AS total_amount
        FROM bronze.orders
        WHERE status = 'paid'
    """,
    "gold.fact_orders": """
        SELECT order_id, customer_id, order_date, region, product_category, total_amount
        FROM silver.orders
    """,
    "gold.dim_customer": """
        WITH spend AS (
            SELECT customer_id, sum(total_amount) AS spent, max(order_date) AS last_order
            FROM gold.fact_orders GROUP BY customer_id
        )
        SELECT
            c.customer_id, c.name, c.email, c.country, c.signup_date,
            CASE
                WHEN h(c.customer_id, 'segment') % 100 < 3 THEN 'Diamond'
                WHEN h(c.customer_id, 'segment') % 100 < 20 THEN 'Gold'
                WHEN h(c.customer_id, 'segment') % 100 < 55 THEN 'Silver'
                ELSE 'Bronze'
            END AS customer_segment,
            round(coalesce(s.spent, 0) * CASE
                WHEN h(c.customer_id, 'segment') % 100 < 3 THEN 4.0
                WHEN h(c.customer_id, 'segment') % 100 < 20 THEN 2.0
                WHEN h(c.customer_id, 'segment') % 100 < 55 THEN 1.2
                ELSE 0.8 END, 2)::DOUBLE AS lifetime_value,
            h(c.customer_id, 'active') % 10 < 8 AS is_active,
            s.last_order AS last_order_date
        FROM bronze.customers c LEFT JOIN spend s USING (customer_id)
        ORDER BY c.customer_id
    """,
}


def _existing(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()
    return {r[0] for r in rows}


def seed(path: str, *, wait_s: float = 60.0) -> list[str]:
    """Create what is missing of the demo warehouse at `path`; returns the tables created."""
    created: list[str] = []
    with open_for_writing(path, wait_s=wait_s) as connection:
        for schema in ("bronze", "silver", "gold"):
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        present = _existing(connection)
        # hash() is UBIGINT; list indexes and arithmetic want BIGINT.
        connection.execute("CREATE OR REPLACE TEMP MACRO h(a, b) AS (hash(a, b) % 1000000007)::BIGINT")
        connection.execute("BEGIN")
        for table, select in TABLES.items():
            if table not in present:
                connection.execute(f"CREATE TABLE {table} AS {select}")
                created.append(table)
        connection.execute("COMMIT")
    return created
