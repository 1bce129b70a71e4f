"""A scheduled saved query exports a file per run, with every real part: the API server writes the
spec, the DAG processor turns it into DAG ``saved_query__<id>``, the scheduler and its executor run
the export task (no metadata-DB access in it), which reads the DuckDB warehouse read-only and
writes ``<destination>/<slug>_<YYYY-MM-DD>.csv`` through the file system.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_platform import PlatformClient
from airflow_platform.demo.warehouse import seed
from airflow_platform.exceptions import ResourceNotFoundError
from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.analytics_support import QUERY, WAREHOUSE, fresh_key
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e

SAVED = "/api/v1/analytics/saved-queries"
EXPORTS = Path(SESSION_ENV["AIRFLOW_HOME"]) / "platform" / "exports"
REPORT = (
    "SELECT region, product_category, SUM(total_amount) AS revenue, count(*) AS orders FROM gold.fact_orders "
    "WHERE order_date >= :start_date AND order_date < :run_date GROUP BY 1, 2 ORDER BY 1, 2"
)


@pytest.fixture(scope="module")
def scheduler(airflow_server: harness.AirflowServer) -> Iterator[None]:
    seed(WAREHOUSE)
    airflow_server.start_scheduler()
    try:
        yield
    finally:
        airflow_server.stop_scheduler()


def test_a_scheduled_saved_query_writes_one_file_per_run(
    actors: Actors, airflow_server: harness.AirflowServer, scheduler: None
) -> None:
    key = fresh_key(actors, actors.alice_key, "saved query export e2e")
    folder = EXPORTS / "team-a" / f"e2e-{uuid.uuid4().hex[:8]}"
    body = {
        "name": "Monthly Revenue Report",
        "description": "Monthly revenue breakdown by region and product",
        "query": REPORT,
        "parameters": [
            {"name": "start_date", "type": "date", "default": "2024-01-01", "required": True},
            {"name": "run_date", "type": "date", "required": True},  # the run's date, in scheduled runs
        ],
        "tags": ["revenue", "monthly", "report"],
        "schedule": "0 8 1 * *",
        "output_format": "csv",
        "destination": f"file://{folder}/",
    }
    with actors.client(key) as alice:
        r = alice.post(SAVED, json=body)
        assert r.status_code == 201, r.text
        saved = r.json()
        expected = alice.post(QUERY, json={"query": REPORT, "parameters": {
            "start_date": {"type": "date", "value": "2024-01-01"},
            "run_date": {"type": "date", "value": "2024-03-15"}}})  # fmt: skip
        assert expected.status_code == 200, expected.text
    dag_id = saved["dag_id"]
    admin = PlatformClient(base_url=actors.base_url, api_key=actors.admin_key)

    def dag_parsed() -> bool:
        try:
            admin.dags.get(dag_id)
        except ResourceNotFoundError:
            return False
        return True

    try:
        airflow_server.wait_for(f"DAG {dag_id} appears", dag_parsed, 180)
        run = admin.dags.trigger(dag_id=dag_id, logical_date=datetime(2024, 3, 15, 8, tzinfo=timezone.utc))
        run.wait(timeout=300, poll_interval=2)
        assert run.state == "success", (
            f"run {run.dag_run_id} is {run.state}\n{airflow_server.scheduler_log_tail()}"
        )

        written = folder / "monthly-revenue-report_2024-03-15.csv"
        assert written.is_file(), sorted(p.name for p in folder.iterdir())
        rows = list(csv.DictReader(io.StringIO(written.read_text())))
        want = expected.json()["data"]
        assert len(rows) == len(want) > 0
        assert [(r["region"], r["product_category"], int(r["orders"])) for r in rows] == [
            (w["region"], w["product_category"], w["orders"]) for w in want
        ]
        assert [round(float(r["revenue"]), 2) for r in rows] == [round(float(w["revenue"]), 2) for w in want]
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    finally:
        with actors.client(key) as alice:
            assert alice.delete(f"{SAVED}/{saved['id']}").status_code == 204
