"""A small daily pipeline that the SDK and CLI examples (and their tests) drive.

``extract >> transform >> load`` with empty tasks: enough to list, trigger, watch, clear and read
logs through the platform without needing any data.
"""

from __future__ import annotations

from datetime import datetime, timezone

try:  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator

with DAG(
    dag_id="example_platform_pipeline",
    description="Example daily pipeline for the Airflow Platform SDK and CLI",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "platform"],
):
    EmptyOperator(task_id="extract") >> EmptyOperator(task_id="transform") >> EmptyOperator(task_id="load")
