"""A DataKit from registration to rows in the warehouse, with every real part: the API server,
the scheduler (and Airflow 3's DAG processor), the executor, the Docker engine running the
example kit's image, and the DuckDB warehouse the web tier reads at the same time.

register (datakit.yaml) → deploy → the DAG appears → trigger (SDK) → the container runs →
``silver.customers_e2e`` holds the cleaned rows; status shows the run. Also through the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from airflow_platform import PlatformClient
from tests import harness
from tests.conftest import SESSION_ENV
from tests.datakits.docker_images import EXAMPLE_KIT, docker_engine, example_kit_image  # noqa: F401
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e
KITS = "/api/v1/datakits"
DEPLOYMENT = "datakit__customer-cleanse__e2e"
TARGET = "customers_e2e"


@pytest.fixture(scope="module")
def scheduler(airflow_server: harness.AirflowServer, example_kit_image: str) -> Iterator[None]:  # noqa: F811
    from airflow_platform.demo.warehouse import seed

    seed(SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"])
    airflow_server.start_scheduler()
    try:
        yield
    finally:
        airflow_server.stop_scheduler()


def test_register_deploy_trigger_rows(
    actors: Actors, airflow_server: harness.AirflowServer, scheduler: None
) -> None:
    with actors.client(actors.admin_key) as admin:
        document = (EXAMPLE_KIT / "datakit.yaml").read_bytes()
        r = admin.post(KITS, content=document, headers={"Content-Type": "application/yaml"})
        assert r.status_code in (200, 201), r.text
        r = admin.post(
            f"{KITS}/customer-cleanse/deploy",
            json={"environment": "e2e", "configuration": {"min_signup_year": 2000},
                  "inputs": {"customers": "bronze.customers_raw"},
                  "outputs": {"customers": f"silver.{TARGET}"}},
        )  # fmt: skip
        assert r.status_code in (200, 201), r.text

        def dag_present() -> bool:
            return bool(admin.get(f"{KITS}/deployments/{DEPLOYMENT}").json()["dag_present"])

        airflow_server.wait_for("the deployment's DAG appears", dag_present, 180)

    # The web tier reads the warehouse while the task writes it (bounded waits on both sides).
    client = PlatformClient(base_url=actors.base_url, api_key=actors.admin_key)
    run = client.dags.trigger(dag_id=DEPLOYMENT, conf={"note": "e2e"})
    run.wait(timeout=300, poll_interval=2)
    assert run.state == "success", (
        f"run {run.dag_run_id} is {run.state}\n{airflow_server.scheduler_log_tail()}"
    )

    with duckdb.connect(SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"], read_only=True) as con:
        rows = con.execute(
            f"SELECT customer_id, email, country, signup_date FROM silver.{TARGET} ORDER BY customer_id"
        ).fetchall()
        raw = con.execute("SELECT count(DISTINCT customer_id) FROM bronze.customers_raw").fetchone()
    assert rows, "the output table is empty"
    assert raw is not None and len(rows) <= raw[0]
    assert len({r[0] for r in rows}) == len(rows)  # one row per customer
    assert all(r[1] and r[1] == r[1].lower() for r in rows)  # e-mails present, lower case
    assert all(r[2] == r[2].upper() for r in rows if r[2])
    assert all(r[3].year >= 2000 for r in rows)

    with actors.client(actors.admin_key) as admin:
        status = admin.get(f"{KITS}/deployments/{DEPLOYMENT}").json()
    assert status["status"] == "active" and status["dag_present"] is True and status["is_paused"] is False
    assert status["last_runs"][0]["run_id"] == run.dag_run_id and status["last_runs"][0]["state"] == "success"


def test_cli_status_shows_the_run(actors: Actors, scheduler: None, tmp_path: Path) -> None:
    """The reference's `airflow-cli datakits status customer-cleanse` answers from the same API."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path),
           "AIRFLOW_PLATFORM_URL": actors.base_url, "AIRFLOW_PLATFORM_API_KEY": actors.admin_key}  # fmt: skip
    cli = [str(Path(sys.executable).parent / "airflow-cli")]
    out = subprocess.run([*cli, "datakits", "status", "customer-cleanse", "-o", "json"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    items = document if isinstance(document, list) else document.get("deployments", [document])
    mine = [d for d in items if d.get("id") == DEPLOYMENT]
    assert mine and mine[0]["last_runs"][0]["state"] == "success"


def test_failed_run_shows_as_failing(
    actors: Actors, airflow_server: harness.AirflowServer, scheduler: None
) -> None:
    """A configuration the image rejects at run time: the run fails, the warehouse keeps its table."""
    with duckdb.connect(SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"], read_only=True) as con:
        before = con.execute(f"SELECT count(*) FROM silver.{TARGET}").fetchone()
    client = PlatformClient(base_url=actors.base_url, api_key=actors.admin_key)
    # The input table does not exist: the task fails before any container starts.
    with httpx.Client(base_url=actors.base_url, headers={"X-API-Key": actors.admin_key}) as admin:
        r = admin.post(f"{KITS}/customer-cleanse/deploy",
                       json={"environment": "broken", "inputs": {"customers": "bronze.does_not_exist"},
                             "outputs": {"customers": f"silver.{TARGET}"}})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        broken = f"{KITS}/deployments/datakit__customer-cleanse__broken"
        airflow_server.wait_for("the broken deployment's DAG appears",
                                lambda: admin.get(broken).json()["dag_present"], 180)  # fmt: skip
        run = client.dags.trigger(dag_id="datakit__customer-cleanse__broken")
        run.wait(timeout=300, poll_interval=2)
        assert run.state == "failed"
        status = admin.get(f"{KITS}/deployments/datakit__customer-cleanse__broken").json()
        assert status["status"] == "failing"
        assert admin.delete(f"{KITS}/deployments/datakit__customer-cleanse__broken").status_code == 204
    with duckdb.connect(SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"], read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM silver.{TARGET}").fetchone() == before
