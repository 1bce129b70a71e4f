"""The reference's ETL pipeline: bronze customers -> the customer-cleanse DataKit -> silver.

``validate_source_data`` checks that ``bronze.customers_raw`` exists and has rows (a read-only look
at the warehouse); ``transform_to_silver`` runs the registered DataKit ``customer-cleanse`` 1.0.0
(``datakits_examples/customer_cleanse``: register its ``datakit.yaml``, build its image with
``build.sh``), which loads ``silver.customers``. Trigger with ``{"min_signup_year": 2010}`` to
override the kit's default. Parsing this file reads nothing: no metadata DB, no warehouse.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_platform.operators import DataKitOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

SOURCE_TABLE = "bronze.customers_raw"
TARGET_TABLE = "silver.customers"

with DAG(
    dag_id="bronze_to_silver_pipeline",
    description="ETL pipeline from bronze to silver layer",
    schedule="0 0 * * *",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["production", "etl"],
    default_args={"owner": "data-team", "retries": 2, "retry_delay": timedelta(minutes=5)},
):

    @task
    def validate_source_data() -> int:
        from airflow_platform import config
        from airflow_platform.datakits.contract import table_rows

        warehouse = config.warehouse_path()
        rows = table_rows(warehouse, SOURCE_TABLE)
        if rows is None:
            raise RuntimeError(
                f"{SOURCE_TABLE} does not exist in the warehouse {warehouse}: nothing to transform"
            )
        if rows == 0:
            raise RuntimeError(f"{SOURCE_TABLE} is empty: nothing to transform")
        print(f"{SOURCE_TABLE}: {rows} rows")
        return rows

    transform_to_silver = DataKitOperator(
        task_id="transform_to_silver",
        datakit="customer-cleanse",
        version="1.0.0",
        inputs={"customers": SOURCE_TABLE},
        outputs={"customers": TARGET_TABLE},
        timeout=3600,
    )

    validate_source_data() >> transform_to_silver
