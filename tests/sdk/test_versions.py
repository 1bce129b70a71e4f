"""One client, two Airflows: detected once from the health answer; Airflow 3's shapes and names
brought to the reference's (``schedule_interval``, ``is_active``, ``execution_date``…)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import PlatformClient, UnsupportedFeatureError
from tests.sdk.fakes import BASE, HEALTH, dag_v1, dag_v2, health_body, run_v1, run_v2, ti

RUN = "scheduled__2024-01-15T00:00:00+00:00"
RUN_PATH = "scheduled__2024-01-15T00%3A00%3A00%2B00%3A00"


def test_version_detected_once_per_client(api: respx.MockRouter) -> None:
    health = api.get(HEALTH).respond(json=health_body("3.3.2"))
    api.get("/api/v2/dags").respond(json={"dags": [], "total_entries": 0})
    api.get("/api/v2/dags/a").respond(json=dag_v2("a"))
    with PlatformClient(BASE, api_key="k") as client:
        client.dags.list()
        client.dags.get("a")
        assert client.airflow_version() == "3.3.2"
    assert health.call_count == 1


def test_version_read_from_a_503_health_answer(api: respx.MockRouter) -> None:
    body = {
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "message": "DB down",
            "details": health_body("2.11.2"),
            "request_id": "r",
        }
    }
    api.get(HEALTH).respond(503, json=body)
    api.get("/api/v1/dags").respond(json={"dags": [], "total_entries": 0})
    with PlatformClient(BASE, api_key="k", max_retries=0) as client:
        assert client.dags.list().total_entries == 0
        with pytest.raises(exc.ServiceUnavailableError):
            client.health()


def test_plain_airflow3_without_the_plugin(api: respx.MockRouter) -> None:
    api.get(HEALTH).respond(404, json={"detail": "Not Found"})
    api.get("/api/v2/monitor/health").respond(json={"metadatabase": {"status": "healthy"}})
    api.get("/api/v2/dags/a").respond(json=dag_v2("a"))
    with PlatformClient(BASE, api_key="k") as client:
        assert client.dags.get("a").dag_id == "a"


def test_airflow2_list_uses_v1_names(airflow2: respx.MockRouter) -> None:
    route = airflow2.get("/api/v1/dags").respond(json={"dags": [dag_v1("a")], "total_entries": 1})
    with PlatformClient(BASE, api_key="k") as client:
        dag = client.dags.list(tags=["production", "etl"], only_active=True, limit=10).dags[0]
    params = route.calls.last.request.url.params
    assert params.get_list("tags") == ["production", "etl"]
    assert params["only_active"] == "true" and "exclude_stale" not in params
    assert str(dag.schedule_interval) == "0 0 * * *" and dag.timetable_summary == "0 0 * * *"
    assert dag.is_active is True and dag.is_stale is False
    assert dag.next_dagrun == dag.next_dagrun_logical_date


def test_airflow3_list_translated_to_the_reference(airflow3: respx.MockRouter) -> None:
    route = airflow3.get("/api/v2/dags").respond(
        json={"dags": [dag_v2("a", is_stale=True)], "total_entries": 1}
    )
    with PlatformClient(BASE, api_key="k") as client:
        dag = client.dags.list(tags=["production"], only_active=False).dags[0]
    params = route.calls.last.request.url.params
    assert params["exclude_stale"] == "false" and "only_active" not in params
    assert dag.is_active is False
    assert dag.schedule_interval is not None
    assert dag.schedule_interval.model_dump(by_alias=True, exclude_none=True) == {
        "__type": "CronExpression",
        "value": "0 0 * * *",
    }
    assert dag.next_dagrun == datetime(2024, 1, 16, tzinfo=timezone.utc)
    assert dag.next_dagrun_create_after == datetime(2024, 1, 17, tzinfo=timezone.utc)
    assert dag.tag_names == ["production"]
    assert dag.model_extra is not None and dag.model_extra["bundle_name"] == "dags-folder", "extras kept"


def test_airflow3_delta_and_asset_schedules(airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags/a").respond(json=dag_v2("a", timetable_summary="1 day, 2:00:00"))
    airflow3.get("/api/v2/dags/b").respond(json=dag_v2("b", timetable_summary="Asset"))
    airflow3.get("/api/v2/dags/c").respond(json=dag_v2("c", timetable_summary=None))
    with PlatformClient(BASE, api_key="k") as client:
        delta = client.dags.get("a").schedule_interval
        assert delta is not None and (delta.type, delta.days, delta.seconds) == ("TimeDelta", 1, 7200)
        asset = client.dags.get("b").schedule_interval
        assert asset is not None and (asset.type, str(asset)) == ("Timetable", "Asset")
        assert client.dags.get("c").schedule_interval is None


@pytest.mark.parametrize(
    ("router", "prefix", "run"), [("airflow2", "/api/v1", run_v1), ("airflow3", "/api/v2", run_v2)]
)
def test_trigger_and_refresh(
    request: pytest.FixtureRequest, router: str, prefix: str, run: Callable[..., dict[str, Any]]
) -> None:
    api: respx.MockRouter = request.getfixturevalue(router)
    make = run
    trigger = api.post(f"{prefix}/dags/etl/dagRuns").respond(json=make("etl", "manual_1"))
    api.get(f"{prefix}/dags/etl/dagRuns/manual_1").mock(
        side_effect=[
            httpx.Response(200, json=make("etl", "manual_1", "running")),
            httpx.Response(200, json=make("etl", "manual_1", "success")),
        ]
    )
    with PlatformClient(BASE, api_key="k") as client:
        started = client.dags.trigger(dag_id="etl", conf={"batch_size": 5000}, run_id="manual_1")
        assert (started.state, started.dag_run_id) == ("queued", "manual_1")
        assert started.execution_date == started.logical_date == datetime(2024, 1, 15, tzinfo=timezone.utc)
        assert started.external_trigger is True
        assert started.refresh().state == "running"
        started.wait(poll_interval=0)
        assert started.state == "success" and started.finished
    body = json.loads(trigger.calls.last.request.content)
    assert body["conf"] == {"batch_size": 5000} and body["dag_run_id"] == "manual_1"
    if prefix == "/api/v2":
        assert "logical_date" in body and body["logical_date"] is None, "Airflow 3 requires the key"
    else:
        assert "logical_date" not in body


def test_trigger_is_not_retried(airflow3: respx.MockRouter, sleeps: list[float]) -> None:
    route = airflow3.post("/api/v2/dags/etl/dagRuns").respond(503, json={"detail": "busy"})
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.ServiceUnavailableError):
        client.dags.trigger("etl")
    assert route.call_count == 1


def test_pause_and_unpause(airflow2: respx.MockRouter) -> None:
    route = airflow2.patch("/api/v1/dags/etl").mock(
        side_effect=[
            httpx.Response(200, json=dag_v1("etl", is_paused=True)),
            httpx.Response(200, json=dag_v1("etl")),
        ]
    )
    with PlatformClient(BASE, api_key="k") as client:
        assert client.dags.pause("etl").is_paused is True
        assert client.dags.unpause("etl").is_paused is False
    assert [json.loads(c.request.content) for c in route.calls] == [{"is_paused": True}, {"is_paused": False}]
    assert route.calls.last.request.url.params["update_mask"] == "is_paused"


def test_runs_filters_by_date_with_each_airflows_names(airflow2: respx.MockRouter) -> None:
    route = airflow2.get("/api/v1/dags/etl/dagRuns").respond(
        json={"dag_runs": [run_v1("etl", RUN)], "total_entries": 1}
    )
    day = datetime(2024, 1, 15)
    with PlatformClient(BASE, api_key="k") as client:
        runs = client.dags.runs(
            "etl", state="success", logical_date_gte=day, logical_date_lte=day, newest_first=True
        )
        assert runs.dag_runs[0].dag_run_id == RUN
    params = route.calls.last.request.url.params
    assert params["execution_date_gte"] == "2024-01-15T00:00:00+00:00", "naive datetimes are UTC"
    assert params["order_by"] == "-execution_date" and params.get_list("state") == ["success"]


def test_task_instances_and_path_quoting(airflow3: respx.MockRouter) -> None:
    route = airflow3.get(f"/api/v2/dags/etl/dagRuns/{RUN_PATH}/taskInstances").respond(
        json={"task_instances": [ti("etl", RUN, "extract")], "total_entries": 1}
    )
    with PlatformClient(BASE, api_key="k") as client:
        (instance,) = list(client.tasks.get_instances(dag_id="etl", dag_run_id=RUN))
    assert route.called
    assert (instance.task_id, instance.state, instance.duration) == ("extract", "success", 1.5)
    assert instance.execution_date == instance.logical_date


@pytest.mark.parametrize(("router", "prefix"), [("airflow2", "/api/v1"), ("airflow3", "/api/v2")])
def test_clear_sends_explicit_flags(request: pytest.FixtureRequest, router: str, prefix: str) -> None:
    api: respx.MockRouter = request.getfixturevalue(router)
    route = api.post(f"{prefix}/dags/etl/clearTaskInstances").respond(
        json={"task_instances": [{"dag_id": "etl", "task_id": "load", "dag_run_id": RUN}]}
    )
    with PlatformClient(BASE, api_key="k") as client:
        cleared = client.tasks.clear(dag_id="etl", task_id="load", dag_run_id=RUN)
    assert [t.task_id for t in cleared] == ["load"]
    body = json.loads(route.calls.last.request.content)
    assert body["task_ids"] == ["load"] and body["dag_run_id"] == RUN
    assert body["dry_run"] is False and body["only_failed"] is False, "Airflow 2.11 defaults both to true"


def test_logs_text_on_airflow2(airflow2: respx.MockRouter) -> None:
    route = airflow2.get(f"/api/v1/dags/etl/dagRuns/{RUN_PATH}/taskInstances/extract/logs/1").respond(
        text="[2024-01-15] INFO - hello\n", headers={"Content-Type": "text/plain"}
    )
    with PlatformClient(BASE, api_key="k") as client:
        logs = client.tasks.get_logs(dag_id="etl", task_id="extract", dag_run_id=RUN, try_number=1)
    assert logs == "[2024-01-15] INFO - hello\n"
    assert route.calls.last.request.headers["Accept"] == "text/plain"


def test_structured_logs_on_airflow3_and_latest_try(airflow3: respx.MockRouter) -> None:
    airflow3.get(f"/api/v2/dags/etl/dagRuns/{RUN_PATH}/taskInstances/extract").respond(
        json=ti("etl", RUN, "extract", try_number=2)
    )
    content = [
        {"event": "::group::Log message source details", "sources": ["/logs/attempt=2.log"]},
        {"timestamp": "2024-01-15T00:00:01Z", "level": "info", "event": "hello", "logger": "task"},
        "plain line",
    ]
    route = airflow3.get(f"/api/v2/dags/etl/dagRuns/{RUN_PATH}/taskInstances/extract/logs/2").respond(
        json={"content": content, "continuation_token": None}
    )
    with PlatformClient(BASE, api_key="k") as client:
        logs = client.tasks.get_logs(dag_id="etl", task_id="extract", dag_run_id=RUN)
    assert route.called
    assert logs.splitlines() == [
        "::group::Log message source details",
        "  /logs/attempt=2.log",
        "[2024-01-15T00:00:01Z] INFO {task} - hello",
        "plain line",
    ]


def test_tasks_get_upstream_filled(airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags/etl/tasks").respond(
        json={
            "tasks": [
                {"task_id": "extract", "downstream_task_ids": ["load"]},
                {"task_id": "load", "downstream_task_ids": []},
            ],
            "total_entries": 2,
        }
    )
    with PlatformClient(BASE, api_key="k") as client:
        extract, load = client.tasks.list("etl")
    assert load.upstream_task_ids == ["extract"] and extract.upstream_task_ids == []


def test_backfill(airflow3: respx.MockRouter) -> None:
    route = airflow3.post("/api/v2/backfills").respond(
        json={
            "id": 7,
            "dag_id": "etl",
            "from_date": "2024-01-01T00:00:00Z",
            "to_date": "2024-01-31T00:00:00Z",
            "dag_run_conf": {},
            "is_paused": False,
            "reprocess_behavior": "none",
            "max_active_runs": 10,
            "created_at": "2024-02-01T00:00:00Z",
            "completed_at": None,
            "updated_at": "2024-02-01T00:00:00Z",
        }
    )
    with PlatformClient(BASE, api_key="k") as client:
        backfill = client.dags.backfill("etl", start_date="2024-01-01", end_date="2024-01-31")
    assert backfill.id == 7
    body = json.loads(route.calls.last.request.content)
    assert body["from_date"] == "2024-01-01T00:00:00Z" and body["to_date"] == "2024-01-31T00:00:00Z"


def test_backfill_is_refused_on_airflow2_before_any_request(airflow2: respx.MockRouter) -> None:
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(UnsupportedFeatureError) as caught:
        client.dags.backfill("etl", start_date="2024-01-01", end_date="2024-01-31")
    assert caught.value.code == "NOT_SUPPORTED" and "Airflow 2" in caught.value.message
    assert [c.request.url.path for c in airflow2.calls] == [HEALTH]
