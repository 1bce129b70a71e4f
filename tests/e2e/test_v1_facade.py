"""The reference's Airflow REST calls at ``/api/v1`` through Airflow's own 2.x REST client
(``apache-airflow-client``), against the real server with the scheduler running a real DAG.

On Airflow 3 they reach the platform's facade (``api/airflow_v1``), which delegates to Airflow's
``/api/v2``; on Airflow 2.11 the very same calls reach Airflow's own ``/api/v1``: the client's strict
model checks passing on both is what shows the shapes match.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_client import client as ac
from airflow_client.client.api import dag_api, dag_run_api, task_instance_api
from airflow_client.client.exceptions import ForbiddenException, NotFoundException, UnauthorizedException
from airflow_client.client.model.clear_task_instances import ClearTaskInstances
from airflow_client.client.model.dag import DAG
from airflow_client.client.model.dag_run import DAGRun
from airflow_client.client.model.update_task_instance import UpdateTaskInstance
from airflow_client.client.model.update_task_state import UpdateTaskState

from tests import harness
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e

DAG_ID = "v1_facade_pipeline"
MARKER = "v1-facade-marker"
TEST_DAG = f'''
from datetime import datetime, timezone

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.operators.python import PythonOperator

with DAG(
    dag_id="{DAG_ID}",
    description="v1 facade end-to-end pipeline",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["facade", "e2e"],
    default_args={{"owner": "facade-team", "retries": 0}},
):
    PythonOperator(task_id="say_hello", python_callable=lambda: print("{MARKER}")) >> PythonOperator(
        task_id="finish", python_callable=lambda: None
    )
'''


def api_client(base_url: str, **auth: str) -> ac.ApiClient:
    """Airflow's 2.x client at ``/api/v1``; ``header=(name, value)`` or username/password."""
    username = auth.pop("username", None)
    password = auth.pop("password", None)
    config = ac.Configuration(host=f"{base_url}/api/v1", username=username, password=password)
    name, value = auth.get("header_name"), auth.get("header_value")
    return ac.ApiClient(config, header_name=name, header_value=value)


@pytest.fixture(scope="module")
def running(airflow_server: harness.AirflowServer, airflow_home: Path, actors: Actors) -> Iterator[None]:
    """The test DAG in the installation's DAG folder, the scheduler running, the DAG parsed."""
    (airflow_home / "dags" / f"{DAG_ID}.py").write_text(TEST_DAG)
    airflow_server.start_scheduler()
    try:
        with actors.client(actors.admin_key) as admin:
            api = f"/api/{'v2' if harness.airflow_major() >= 3 else 'v1'}/dags"

            def parsed() -> bool:
                return all(
                    admin.get(f"{api}/{d}").status_code == 200 for d in (DAG_ID, "bronze_to_silver_pipeline")
                )

            airflow_server.wait_for("the DAGs are parsed", parsed, 240)
        yield
    finally:
        airflow_server.stop_scheduler()


@pytest.fixture
def admin_api(actors: Actors) -> Iterator[ac.ApiClient]:
    with api_client(actors.base_url, header_name="X-API-Key", header_value=actors.admin_key) as c:
        yield c


def wait_for_run(server: harness.AirflowServer, runs: dag_run_api.DAGRunApi, run_id: str) -> Any:
    def finished() -> Any:
        run = runs.get_dag_run(DAG_ID, run_id)
        return run if str(run.state) in ("success", "failed") else None

    return server.wait_for(f"run {run_id} finishes", finished, 240)


def wait_for_ti(
    server: harness.AirflowServer,
    tis: task_instance_api.TaskInstanceApi,
    run_id: str,
    task_id: str,
    state: str,
) -> Any:
    def reached() -> Any:
        ti = tis.get_task_instance(DAG_ID, run_id, task_id)
        return ti if ti.state is not None and str(ti.state) == state else None

    return server.wait_for(f"{task_id} of {run_id} is {state}", reached, 240)


def test_list_and_get_dags(admin_api: ac.ApiClient, running: None) -> None:
    dags = dag_api.DAGApi(admin_api)
    listed = dags.get_dags(tags=["facade"], only_active=True, limit=10, offset=0)
    assert [d.dag_id for d in listed.dags] == [DAG_ID]
    assert listed.total_entries == 1
    dag = listed.dags[0]
    assert {t.name for t in dag.tags} == {"facade", "e2e"}
    assert dag.owners == ["facade-team"]
    assert dag.description == "v1 facade end-to-end pipeline"
    assert dag.schedule_interval is None and dag.is_active is True
    assert dag.fileloc.endswith(f"{DAG_ID}.py")

    everything = dags.get_dags(limit=100)
    ids = [d.dag_id for d in everything.dags]
    assert {DAG_ID, "bronze_to_silver_pipeline"} <= set(ids)
    assert everything.total_entries == len(ids)
    page = dags.get_dags(limit=1, offset=1, order_by="dag_id")
    assert len(page.dags) == 1 and page.dags[0].dag_id == sorted(ids)[1]
    assert page.total_entries == everything.total_entries

    one = dags.get_dag(DAG_ID)
    assert one.dag_id == DAG_ID and one.is_paused is True
    cron = dags.get_dag("bronze_to_silver_pipeline")
    assert cron.schedule_interval.type == "CronExpression" and cron.schedule_interval.value == "0 0 * * *"
    assert {t.name for t in cron.tags} == {"production", "etl"}


def test_list_tasks(admin_api: ac.ApiClient, running: None) -> None:
    tasks = dag_api.DAGApi(admin_api).get_tasks(DAG_ID)
    by_id = {t.task_id: t for t in tasks.tasks}
    assert set(by_id) == {"say_hello", "finish"}
    assert by_id["say_hello"].downstream_task_ids == ["finish"]
    assert by_id["say_hello"].owner == "facade-team"
    assert by_id["say_hello"].trigger_rule.value == "all_success"
    assert by_id["say_hello"].class_ref.class_name == "PythonOperator"
    assert by_id["finish"].retry_delay.seconds == 300


def test_errors_the_client_raises(actors: Actors, admin_api: ac.ApiClient, running: None) -> None:
    with pytest.raises(NotFoundException) as missing:
        dag_api.DAGApi(admin_api).get_dag("no_such_dag_anywhere")
    problem = json.loads(missing.value.body)
    assert problem["status"] == 404 and problem["title"] and problem["type"]
    with pytest.raises(NotFoundException):
        dag_run_api.DAGRunApi(admin_api).get_dag_run(DAG_ID, "no_such_run")

    with api_client(actors.base_url, header_name="X-API-Key", header_value=actors.viewer_key) as viewer:
        assert dag_api.DAGApi(viewer).get_dag(DAG_ID).dag_id == DAG_ID  # a Viewer reads
        with pytest.raises(ForbiddenException):
            dag_api.DAGApi(viewer).patch_dag(DAG_ID, DAG(is_paused=False), update_mask=["is_paused"])
        with pytest.raises(ForbiddenException):
            dag_run_api.DAGRunApi(viewer).post_dag_run(DAG_ID, DAGRun(conf={}))
    # No credentials: 401 on Airflow 3; Airflow 2.11's session backend lets the anonymous request
    # through to its permission check, which answers 403.
    refused = UnauthorizedException if harness.airflow_major() >= 3 else ForbiddenException
    with api_client(actors.base_url) as anonymous, pytest.raises(refused):
        dag_api.DAGApi(anonymous).get_dags()
    bad_key = api_client(actors.base_url, header_name="X-API-Key", header_value="afp_not-a-key")
    with bad_key as bad, pytest.raises(refused):  # 2.11: the next auth backend lets it through anonymously
        dag_api.DAGApi(bad).get_dags()


def test_other_credentials(actors: Actors, running: None) -> None:
    """Airflow 3: an Airflow JWT (``/auth/token``); Airflow 2.11: Basic auth. Both as the API takes them."""
    if harness.airflow_major() >= 3:
        token = httpx.post(
            f"{actors.base_url}/auth/token",
            json={"username": harness.ADMIN_USER, "password": harness.ADMIN_PASSWORD},
            timeout=30,
        ).json()["access_token"]
        client = api_client(actors.base_url, header_name="Authorization", header_value=f"Bearer {token}")
    else:
        client = api_client(actors.base_url, username=harness.ADMIN_USER, password=harness.ADMIN_PASSWORD)
    with client:
        assert dag_api.DAGApi(client).get_dag(DAG_ID).dag_id == DAG_ID


def test_unknown_v1_paths(actors: Actors, airflow_server: harness.AirflowServer) -> None:
    with actors.client(actors.admin_key) as admin:
        response = admin.get("/api/v1/dags/x/notACall")
        assert response.status_code == 404
        if harness.airflow_major() >= 3:  # ours: the envelope, pointing at /api/v2
            error = response.json()["error"]
            assert error["code"] == "RESOURCE_NOT_FOUND" and "/api/v2" in error["message"]
            pools = admin.get("/api/v1/pools")
            assert pools.status_code == 404 and pools.json()["error"]["details"]["use"] == "/api/v2"
            assert admin.delete(f"/api/v1/dags/{DAG_ID}").status_code == 405  # not one of the calls
        else:  # Airflow's own /api/v1
            assert response.json()["status"] == 404
            assert admin.get("/api/v1/pools").status_code == 200


def test_run_lifecycle(admin_api: ac.ApiClient, airflow_server: harness.AirflowServer, running: None) -> None:
    dags = dag_api.DAGApi(admin_api)
    runs = dag_run_api.DAGRunApi(admin_api)
    tis = task_instance_api.TaskInstanceApi(admin_api)

    unpaused = dags.patch_dag(DAG_ID, DAG(is_paused=False), update_mask=["is_paused"])
    assert unpaused.is_paused is False and dags.get_dag(DAG_ID).is_paused is False
    assert [d.dag_id for d in dags.get_dags(tags=["facade"], paused=False).dags] == [DAG_ID]

    run_id = f"facade_{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}"
    conf = {"batch_size": 1000, "target_table": "silver.customers"}
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    made = runs.post_dag_run(DAG_ID, DAGRun(dag_run_id=run_id, conf=conf, note="facade e2e"))
    assert made.dag_run_id == run_id and made.dag_id == DAG_ID
    assert made.conf == conf and made.note == "facade e2e"
    assert made.run_type == "manual" and made.external_trigger is True
    assert str(made.state) in ("queued", "running")
    assert made.execution_date is not None and made.execution_date == made.logical_date
    assert made.execution_date >= before

    listed = runs.get_dag_runs(DAG_ID, execution_date_gte=before, limit=10)
    assert run_id in [r.dag_run_id for r in listed.dag_runs] and listed.total_entries >= 1

    done = wait_for_run(airflow_server, runs, run_id)
    assert str(done.state) == "success" and done.end_date is not None
    assert run_id in [r.dag_run_id for r in runs.get_dag_runs(DAG_ID, state=["success"]).dag_runs]

    ti = tis.get_task_instance(DAG_ID, run_id, "say_hello")
    assert str(ti.state) == "success" and ti.try_number == 1 and ti.task_id == "say_hello"
    assert ti.dag_run_id == run_id and ti.operator == "PythonOperator" and ti.duration is not None
    assert {t.task_id for t in tis.get_task_instances(DAG_ID, run_id).task_instances} == {
        "say_hello",
        "finish",
    }

    log = tis.get_log(DAG_ID, run_id, "say_hello", 1, full_content=True)
    assert MARKER in log.content
    [(_host, text)] = ast.literal_eval(log.content)  # Airflow 2's repr of [(host, text)]
    assert MARKER in text

    # PATCH: a dry run changes nothing; then "finish" is really set to failed.
    planned = tis.patch_task_instance(
        DAG_ID, run_id, "finish", UpdateTaskInstance(dry_run=True, new_state=UpdateTaskState("failed"))
    )
    assert planned.task_id == "finish" and planned.dag_run_id == run_id
    assert str(tis.get_task_instance(DAG_ID, run_id, "finish").state) == "success"
    changed = tis.patch_task_instance(
        DAG_ID, run_id, "finish", UpdateTaskInstance(dry_run=False, new_state=UpdateTaskState("failed"))
    )
    # The facade names the task instance; Airflow 2.11 itself answers an empty reference here.
    assert changed.to_dict().get("task_id", "finish") == "finish"
    assert str(tis.get_task_instance(DAG_ID, run_id, "finish").state) == "failed"

    # Clear the failed task: the dry run lists it, the real clear makes the scheduler run it again.
    body = {"dag_run_id": run_id, "task_ids": ["finish"], "only_failed": True, "reset_dag_runs": True}
    preview = dags.post_clear_task_instances(DAG_ID, ClearTaskInstances(dry_run=True, **body))
    assert [(r.task_id, r.dag_run_id) for r in preview.task_instances] == [("finish", run_id)]
    assert str(tis.get_task_instance(DAG_ID, run_id, "finish").state) == "failed"
    cleared = dags.post_clear_task_instances(DAG_ID, ClearTaskInstances(dry_run=False, **body))
    assert [r.task_id for r in cleared.task_instances] == ["finish"]
    again = wait_for_ti(airflow_server, tis, run_id, "finish", "success")
    assert again.try_number == 2
    assert str(tis.get_task_instance(DAG_ID, run_id, "say_hello").state) == "success"  # not cleared

    # Airflow 3 refuses to delete a running run (2.11 allows it): the cleared run finishes first.
    assert str(wait_for_run(airflow_server, runs, run_id).state) == "success"
    runs.delete_dag_run(DAG_ID, run_id)
    with pytest.raises(NotFoundException):
        runs.get_dag_run(DAG_ID, run_id)

    paused = dags.patch_dag(DAG_ID, DAG(is_paused=True), update_mask=["is_paused"])
    assert paused.is_paused is True


def test_logs_as_text(actors: Actors, admin_api: ac.ApiClient, airflow_server: harness.AirflowServer,
                      running: None) -> None:  # fmt: skip
    """v1's ``Accept: text/plain`` answer is the log itself (what scripts with curl read)."""
    dags = dag_api.DAGApi(admin_api)
    runs = dag_run_api.DAGRunApi(admin_api)
    dags.patch_dag(DAG_ID, DAG(is_paused=False), update_mask=["is_paused"])
    try:
        run_id = runs.post_dag_run(DAG_ID, DAGRun(conf={})).dag_run_id
        wait_for_run(airflow_server, runs, run_id)
    finally:
        dags.patch_dag(DAG_ID, DAG(is_paused=True), update_mask=["is_paused"])
    with actors.client(actors.admin_key, Accept="text/plain") as admin:
        response = admin.get(
            f"/api/v1/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/say_hello/logs/1",
            params={"full_content": "true"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert MARKER in response.text and not response.text.startswith("[(")
