"""The /api/v1 facade's mappers (``api/airflow_v1/shapes.py``), without a server.

Each mapped answer is also fed to ``apache-airflow-client`` 2.x's own deserializer, which checks
every field against Airflow 2's OpenAPI types, so an Airflow 3 value v1 cannot express fails here.
"""

from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_platform.api.airflow_v1 import shapes
from airflow_platform.api.airflow_v1.shapes import V1Error, V2Call, match, plan

V2_DAG: dict[str, Any] = {
    "dag_id": "bronze_to_silver_pipeline",
    "dag_display_name": "bronze_to_silver_pipeline",
    "is_paused": False,
    "is_stale": False,
    "last_parsed_time": "2024-01-15T10:30:00Z",
    "last_parse_duration": 0.2,
    "last_expired": None,
    "bundle_name": "dags-folder",
    "bundle_version": None,
    "relative_fileloc": "bronze_to_silver.py",
    "fileloc": "/opt/airflow/dags/bronze_to_silver.py",
    "description": "ETL pipeline from bronze to silver layer",
    "timetable_summary": "0 0 * * *",
    "timetable_description": "At 00:00",
    "timetable_partitioned": False,
    "timetable_periodic": True,
    "tags": [{"name": "etl", "dag_id": "bronze_to_silver_pipeline"}, {"name": "production", "dag_id": "x"}],
    "max_active_tasks": 16,
    "max_active_runs": 1,
    "max_consecutive_failed_dag_runs": 0,
    "has_task_concurrency_limits": False,
    "has_import_errors": False,
    "next_dagrun_logical_date": "2024-01-16T00:00:00Z",
    "next_dagrun_data_interval_start": "2024-01-16T00:00:00Z",
    "next_dagrun_data_interval_end": "2024-01-17T00:00:00Z",
    "next_dagrun_run_after": "2024-01-17T00:00:00Z",
    "allowed_run_types": None,
    "owners": ["data-team"],
    "is_backfillable": True,
    "file_token": "Ii9vcHQvYWlyZmxvdy9kYWdzL2Jyb256ZV90b19zaWx2ZXIucHki.YLhATQ.0K",
}

V2_RUN: dict[str, Any] = {
    "dag_run_id": "manual_2024_01_15",
    "dag_id": "bronze_to_silver_pipeline",
    "logical_date": "2024-01-15T00:00:00Z",
    "queued_at": "2024-01-15T10:29:59Z",
    "start_date": "2024-01-15T10:30:00Z",
    "end_date": None,
    "duration": None,
    "data_interval_start": "2024-01-15T00:00:00Z",
    "data_interval_end": "2024-01-15T23:59:59Z",
    "run_after": "2024-01-15T10:29:59Z",
    "last_scheduling_decision": None,
    "run_type": "manual",
    "state": "running",
    "triggered_by": "rest_api",
    "triggering_user_name": "admin",
    "conf": {"batch_size": 1000},
    "note": "Manual trigger for customer data refresh",
    "dag_versions": [],
    "bundle_version": None,
    "dag_display_name": "bronze_to_silver_pipeline",
    "partition_key": None,
    "partition_date": None,
}

V2_TI: dict[str, Any] = {
    "id": "0190d3c4-0000-7000-8000-000000000000",
    "task_id": "validate_source_data",
    "dag_id": "bronze_to_silver_pipeline",
    "dag_run_id": "scheduled__2024-01-15T00:00:00+00:00",
    "map_index": -1,
    "logical_date": "2024-01-15T00:00:00Z",
    "run_after": "2024-01-16T00:00:00Z",
    "start_date": "2024-01-15T00:00:00Z",
    "end_date": "2024-01-15T00:02:05.500000Z",
    "duration": 125.5,
    "state": "success",
    "try_number": 1,
    "max_tries": 2,
    "task_display_name": "validate_source_data",
    "dag_display_name": "bronze_to_silver_pipeline",
    "hostname": None,
    "unixname": None,
    "pool": "default_pool",
    "pool_slots": 1,
    "queue": "default",
    "priority_weight": 1,
    "operator": "PythonOperator",
    "operator_name": "PythonOperator",
    "queued_when": "2024-01-15T00:00:00Z",
    "scheduled_when": None,
    "pid": 12345,
    "executor": None,
    "executor_config": "{}",
    "note": None,
    "rendered_map_index": None,
    "rendered_fields": {"source_table": "bronze.customers_raw"},
    "trigger": None,
    "triggerer_job": None,
    "dag_version": None,
}

V2_TASK: dict[str, Any] = {
    "task_id": "validate_source_data",
    "task_display_name": "validate_source_data",
    "owner": "data-team",
    "start_date": "2024-01-01T00:00:00Z",
    "end_date": None,
    "trigger_rule": "all_success",
    "depends_on_past": False,
    "wait_for_downstream": False,
    "retries": 2.0,
    "queue": "default",
    "pool": "default_pool",
    "pool_slots": 1.0,
    "execution_timeout": None,
    "retry_delay": {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0},
    "retry_exponential_backoff": 0.0,
    "priority_weight": 1.0,
    "weight_rule": "downstream",
    "ui_color": "#e8f7e4",
    "ui_fgcolor": "#000",
    "template_fields": ["source_table", "target_table"],
    "downstream_task_ids": ["transform_to_silver"],
    "doc_md": None,
    "operator_name": "PythonOperator",
    "params": {},
    "class_ref": {
        "module_path": "airflow.providers.standard.operators.python",
        "class_name": "PythonOperator",
    },
    "is_mapped": False,
    "extra_links": ["Docs"],
}


def client_checks(body: Any, model: str) -> Any:
    """``body`` through apache-airflow-client's deserializer for the v1 model ``model``."""
    from airflow_client.client import ApiClient, Configuration

    class Response:
        data = json.dumps(body)

        def getheader(self, name: str) -> None:
            return None

    module = __import__(f"airflow_client.client.model.{model}", fromlist=["x"])
    cls = next(
        getattr(module, n)
        for n in dir(module)
        if n.lower() == model.replace("_", "") and isinstance(getattr(module, n), type)
    )
    return ApiClient(Configuration()).deserialize(Response(), (cls,), True)


# --- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "template", "op"), shapes.ROUTES)
def test_every_route_matches(method: str, template: str, op: str) -> None:
    path = template.replace("{dag_id}", "d").replace("{dag_run_id}", "manual__2024-01-15T00:00:00+00:00")
    path = path.replace("{task_id}", "t").replace("{try_number}", "1")
    found = match(method, path)
    assert found is not None and not isinstance(found, str) and found.op == op
    if "{dag_run_id}" in template:
        assert found.params["dag_run_id"] == "manual__2024-01-15T00:00:00+00:00"


def test_unknown_paths_and_methods() -> None:
    assert match("GET", "/pools") is None
    assert match("GET", "") is None
    assert match("GET", "/dags/d/notACall") is None
    assert match("GET", "/dags//tasks") is None  # an empty id is no id
    assert match("DELETE", "/dags/d") == "method"  # a path of the facade, not that method
    assert match("PUT", "/dags/d/dagRuns") == "method"


# --- requests ----------------------------------------------------------------------------------


def test_list_dags_query() -> None:
    query = [
        ("limit", "10"),
        ("offset", "5"),
        ("tags", "a"),
        ("tags", "b"),
        ("only_active", "True"),
        ("order_by", "-dag_id"),
        ("fields", "dag_id"),
    ]
    call = plan("list_dags", {}, query, None)
    assert call == V2Call(
        "GET",
        "/api/v2/dags",
        [
            ("limit", "10"),
            ("offset", "5"),
            ("tags", "a"),
            ("tags", "b"),
            ("exclude_stale", "true"),
            ("order_by", "-dag_id"),
        ],
    )
    assert plan("list_dags", {}, [("only_active", "false")], None).query == [("exclude_stale", "false")]


def test_list_runs_and_task_instances_speak_logical_date() -> None:
    query = [
        ("execution_date_gte", "2024-01-01T00:00:00Z"),
        ("execution_date_lte", "2024-02-01T00:00:00Z"),
        ("state", "success"),
        ("order_by", "-execution_date"),
    ]
    call = plan("list_runs", {"dag_id": "d"}, query, None)
    assert call.path == "/api/v2/dags/d/dagRuns"
    assert call.query == [
        ("logical_date_gte", "2024-01-01T00:00:00Z"),
        ("logical_date_lte", "2024-02-01T00:00:00Z"),
        ("state", "success"),
        ("order_by", "-logical_date"),
    ]
    tis = plan("list_task_instances", {"dag_id": "d", "dag_run_id": "r"}, query[:1], None)
    assert tis.path == "/api/v2/dags/d/dagRuns/r/taskInstances" and tis.query[0][0] == "logical_date_gte"


def test_ids_are_quoted_as_one_segment() -> None:
    params = {"dag_id": "d", "dag_run_id": "scheduled__2024-01-15T00:00:00+00:00", "task_id": "t"}
    assert plan("get_task_instance", params, [], None).path == (
        "/api/v2/dags/d/dagRuns/scheduled__2024-01-15T00%3A00%3A00%2B00%3A00/taskInstances/t"
    )


def test_patch_dag_body() -> None:
    call = plan(
        "patch_dag", {"dag_id": "d"}, [("update_mask", "is_paused")], {"is_paused": True, "dag_id": "x"}
    )
    assert call == V2Call("PATCH", "/api/v2/dags/d", [("update_mask", "is_paused")], {"is_paused": True})
    with pytest.raises(V1Error) as e:
        plan("patch_dag", {"dag_id": "d"}, [], {"description": "nope"})
    assert e.value.status == 400
    with pytest.raises(V1Error):
        plan("patch_dag", {"dag_id": "d"}, [], ["not", "an", "object"])


def test_trigger_body() -> None:
    now = datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)
    body = {"conf": {"a": 1}, "dag_run_id": "r1", "note": "n", "data_interval_start": None}
    assert shapes.trigger_body(body, now) == {
        "logical_date": "2024-01-15T10:30:00+00:00",
        "conf": {"a": 1},
        "dag_run_id": "r1",
        "note": "n",
    }
    # v1 accepts either name; a conflict is refused as Airflow 2 refuses it.
    assert (
        shapes.trigger_body({"execution_date": "2024-01-01T00:00:00Z"})["logical_date"]
        == "2024-01-01T00:00:00Z"
    )
    assert (
        shapes.trigger_body({"logical_date": "2024-01-01T00:00:00Z"})["logical_date"]
        == "2024-01-01T00:00:00Z"
    )
    with pytest.raises(V1Error) as e:
        shapes.trigger_body(
            {"logical_date": "2024-01-01T00:00:00Z", "execution_date": "2024-01-02T00:00:00Z"}
        )
    assert e.value.status == 400
    assert "execution_date" not in plan("trigger_run", {"dag_id": "d"}, [], {"execution_date": "x"}).body  # type: ignore[operator]


def test_patch_task_instance_is_a_dry_run_unless_told() -> None:
    params = {"dag_id": "d", "dag_run_id": "r", "task_id": "t"}
    dry = plan("patch_task_instance", params, [], {"new_state": "success"})
    assert dry == V2Call(
        "PATCH", "/api/v2/dags/d/dagRuns/r/taskInstances/t/dry_run", [], {"new_state": "success"}
    )
    real = plan("patch_task_instance", params, [], {"new_state": "failed", "dry_run": False})
    assert real.path.endswith("/taskInstances/t") and real.body == {"new_state": "failed"}
    with pytest.raises(V1Error):
        plan("patch_task_instance", params, [], {"dry_run": False})


def test_clear_body_drops_subdag_options() -> None:
    body = {
        "dry_run": False,
        "task_ids": ["t"],
        "dag_run_id": "r",
        "include_subdags": True,
        "include_parentdag": True,
        "only_failed": True,
        "start_date": None,
    }
    call = plan("clear_task_instances", {"dag_id": "d"}, [], body)
    assert call.path == "/api/v2/dags/d/clearTaskInstances"
    assert call.body == {"dry_run": False, "task_ids": ["t"], "dag_run_id": "r", "only_failed": True}


def test_log_query() -> None:
    params = {"dag_id": "d", "dag_run_id": "r", "task_id": "t", "try_number": "2"}
    call = plan(
        "get_log", params, [("full_content", "True"), ("token", "abc"), ("map_index", "3"), ("x", "1")], None
    )
    assert call.path == "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/2"
    assert call.query == [("full_content", "True"), ("token", "abc"), ("map_index", "3")]
    with pytest.raises(V1Error):
        plan("get_log", {**params, "try_number": "one"}, [], None)


# --- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("0 0 * * *", {"__type": "CronExpression", "value": "0 0 * * *"}),
        ("@daily", {"__type": "CronExpression", "value": "@daily"}),
        ("1 day, 0:00:00", {"__type": "TimeDelta", "days": 1, "seconds": 0, "microseconds": 0}),
        ("0:05:00", {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0}),
        ("2 days, 1:00:00.5", {"__type": "TimeDelta", "days": 2, "seconds": 3600, "microseconds": 500000}),
        (None, None),
        ("None", None),
        ("Asset", None),
    ],
)
def test_schedule_interval(summary: str | None, expected: dict[str, Any] | None) -> None:
    assert shapes.schedule_interval(summary) == expected


def test_dag_answer() -> None:
    v1 = shapes.answer("get_dag", {}, V2_DAG)
    assert v1["schedule_interval"] == {"__type": "CronExpression", "value": "0 0 * * *"}
    assert v1["tags"] == [{"name": "etl"}, {"name": "production"}]
    assert v1["is_active"] is True and v1["is_subdag"] is False and v1["root_dag_id"] is None
    assert (
        v1["next_dagrun"] == "2024-01-16T00:00:00Z"
        and v1["next_dagrun_create_after"] == "2024-01-17T00:00:00Z"
    )
    assert shapes.dag({**V2_DAG, "is_stale": True})["is_active"] is False
    parsed = client_checks(v1, "dag")
    assert parsed.schedule_interval.value == "0 0 * * *"
    collection = shapes.answer(
        "list_dags",
        {},
        {"dags": [V2_DAG, {**V2_DAG, "timetable_summary": "1 day, 0:00:00"}], "total_entries": 15},
    )
    assert collection["total_entries"] == 15
    assert client_checks(collection, "dag_collection").dags[1].schedule_interval.days == 1
    assert client_checks(shapes.dag({**V2_DAG, "timetable_summary": None}), "dag").schedule_interval is None


def test_dag_run_answer() -> None:
    v1 = shapes.answer("trigger_run", {}, V2_RUN)
    assert v1["execution_date"] == v1["logical_date"] == "2024-01-15T00:00:00Z"
    assert v1["external_trigger"] is True and v1["run_type"] == "manual"
    assert set(v1) == {
        "conf",
        "dag_id",
        "dag_run_id",
        "data_interval_end",
        "data_interval_start",
        "end_date",
        "execution_date",
        "external_trigger",
        "last_scheduling_decision",
        "logical_date",
        "note",
        "run_type",
        "start_date",
        "state",
    }
    client_checks(v1, "dag_run")
    # Airflow 3's run types and a run without a logical date still parse as v1.
    asset = shapes.dag_run({**V2_RUN, "run_type": "asset_triggered", "logical_date": None, "conf": None})
    assert (
        asset["run_type"] == "dataset_triggered"
        and asset["external_trigger"] is False
        and asset["conf"] == {}
    )
    client_checks(asset, "dag_run")
    assert shapes.dag_run({**V2_RUN, "run_type": "asset_materialization"})["run_type"] == "manual"
    runs = shapes.answer("list_runs", {}, {"dag_runs": [V2_RUN], "total_entries": 1})
    assert client_checks(runs, "dag_run_collection").total_entries == 1


def test_task_instance_answers() -> None:
    v1 = shapes.answer("get_task_instance", {}, V2_TI)
    assert v1["execution_date"] == "2024-01-15T00:00:00Z" and v1["sla_miss"] is None
    assert v1["hostname"] == "" and v1["unixname"] == ""  # v1 declares them non-null strings
    parsed = client_checks(v1, "task_instance")
    assert parsed.rendered_fields == {"source_table": "bronze.customers_raw"}
    # A run without a logical date: v1's required execution_date is the run's due time.
    assert shapes.task_instance({**V2_TI, "logical_date": None})["execution_date"] == "2024-01-16T00:00:00Z"
    client_checks(shapes.task_instance({**V2_TI, "state": None, "executor_config": None}), "task_instance")
    listed = shapes.answer("list_task_instances", {}, {"task_instances": [V2_TI], "total_entries": 1})
    assert (
        client_checks(listed, "task_instance_collection").task_instances[0].task_id == "validate_source_data"
    )


def test_patch_and_clear_answers_are_references() -> None:
    params = {"dag_id": "d", "dag_run_id": V2_TI["dag_run_id"], "task_id": "validate_source_data"}
    other = {**V2_TI, "task_id": "downstream"}
    ref = shapes.answer("patch_task_instance", params, {"task_instances": [other, V2_TI], "total_entries": 2})
    assert ref == {
        "dag_id": "bronze_to_silver_pipeline",
        "dag_run_id": V2_TI["dag_run_id"],
        "execution_date": "2024-01-15T00:00:00Z",
        "task_id": "validate_source_data",
    }
    client_checks(ref, "task_instance_reference")
    with pytest.raises(V1Error) as e:
        shapes.answer("patch_task_instance", params, {"task_instances": [], "total_entries": 0})
    assert e.value.status == 404
    # A clear dry run may list new tasks (no TI yet): v1 has no way to name them, so they are left out.
    cleared = shapes.answer(
        "clear_task_instances",
        params,
        {"task_instances": [V2_TI, {"task_id": "new", "task_display_name": "new"}], "total_entries": 2},
    )
    assert [r["task_id"] for r in cleared["task_instances"]] == ["validate_source_data"]
    client_checks(cleared, "task_instance_reference_collection")


def test_task_answer() -> None:
    v1 = shapes.answer("get_task", {}, V2_TASK)
    assert v1["retry_exponential_backoff"] is False
    assert v1["extra_links"] == [{"class_ref": {"class_name": "Docs", "module_path": ""}}]
    assert v1["class_ref"]["class_name"] == "PythonOperator"
    parsed = client_checks(v1, "task")
    assert parsed.retry_delay.seconds == 300 and parsed.weight_rule.value == "downstream"
    custom = shapes.task({**V2_TASK, "weight_rule": "my.Strategy", "owner": None, "execution_timeout": None})
    assert "weight_rule" not in custom and custom["owner"] == ""
    client_checks(custom, "task")
    tasks = shapes.answer("list_tasks", {}, {"tasks": [V2_TASK], "total_entries": 1})
    assert client_checks(tasks, "task_collection").tasks[0].task_id == "validate_source_data"


def test_log_answers() -> None:
    v2 = {
        "content": [
            {"timestamp": "2024-01-15T00:00:01Z", "event": "starting", "level": "info", "logger": "task"},
            {"event": "::group::Log message source details", "sources": ["/logs/1.log"]},
            "a plain line",
        ],
        "continuation_token": None,
    }
    text = shapes.log_text(v2)
    assert text.splitlines() == [
        "[2024-01-15T00:00:01Z] INFO {task} - starting",
        "::group::Log message source details",
        "  /logs/1.log",
        "a plain line",
    ]
    v1 = shapes.answer("get_log", {}, v2)
    assert "continuation_token" not in v1  # v1 declares a string; at the end Airflow 3 has none
    assert ast.literal_eval(v1["content"]) == [("", text)]
    assert shapes.log_json({**v2, "continuation_token": "tok"})["continuation_token"] == "tok"
    assert shapes.log_text({"content": "already text"}) == "already text"


def test_errors() -> None:
    missing = shapes.error_from_v2(404, {"detail": "The Dag with ID: `x` was not found"})
    assert (missing.status, missing.detail) == (404, "The Dag with ID: `x` was not found")
    invalid = shapes.error_from_v2(
        422,
        {"detail": [{"type": "missing", "loc": ["body", "is_paused"], "msg": "Field required", "input": {}}]},
    )
    assert (invalid.status, invalid.detail) == (400, "is_paused: Field required")
    assert shapes.error_from_v2(403, {"detail": "Forbidden"}).title == "Forbidden"
    assert shapes.error_from_v2(409, {"detail": {"reason": "Unique constraint violation"}}).detail == (
        "Unique constraint violation"
    )
    assert shapes.error_from_v2(500, None).detail
    body = shapes.problem(404, "gone")
    assert (
        body["status"] == 404
        and body["title"] == "Not Found"
        and body["type"].endswith("#section/Errors/NotFound")
    )


def test_only_fields() -> None:
    collection = {"dags": [{"dag_id": "a", "is_paused": True}], "total_entries": 1}
    assert shapes.only_fields(collection, ["dag_id"]) == {"dags": [{"dag_id": "a"}], "total_entries": 1}
    assert shapes.only_fields({"dag_id": "a", "is_paused": True}, ["is_paused"]) == {"is_paused": True}
    assert shapes.only_fields(collection, []) is collection
