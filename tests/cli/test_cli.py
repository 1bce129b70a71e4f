"""``airflow-cli`` in-process (typer's CliRunner) against respx-mocked servers."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import typer

from airflow_platform.cli.main import app
from tests.cli.conftest import Invoke
from tests.sdk.fakes import BASE, api_key, dag_v2, health_body, paged, run_v1, run_v2, tenant, ti

RUN = "scheduled__2024-01-15T00:00:00+00:00"
RUN_PATH = "scheduled__2024-01-15T00%3A00%3A00%2B00%3A00"


def one_line_error(result: object, starts: str) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 1, (result.stdout, stderr)  # type: ignore[attr-defined]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(starts), lines[0]
    assert "Traceback" not in stderr
    return str(lines[0])


# --- help and completion ------------------------------------------------------------------------


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path (typer may vendor click, so groups are recognised by ``commands``)."""
    found = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_help_everywhere_and_completion(invoke: Invoke) -> None:
    commands = _commands(typer.main.get_command(app))
    assert {
        ("dags", "backfill"),
        ("tasks", "logs"),
        ("config", "set"),
        ("api-keys", "revoke"),
        ("datakits", "deploy"),
        ("datakits", "delete-version"),
        ("health",),
    } <= set(commands)
    for path in commands:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.stdout
    assert "--install-completion" in invoke("--help").stdout


# --- config -------------------------------------------------------------------------------------


def test_config_set_get_list_file_is_private(invoke: Invoke, config_home: Path) -> None:
    assert invoke("config", "set", "base_url", "https://airflow.example.com/").exit_code == 0
    assert invoke("config", "set", "api_key", "-", input="afp_abcdefghijklmnop\n").exit_code == 0
    path = config_home / "config.json"
    assert json.loads(path.read_text()) == {
        "api_key": "afp_abcdefghijklmnop",
        "base_url": "https://airflow.example.com",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_home.stat().st_mode) == 0o700
    assert invoke("config", "get", "base_url").stdout == "https://airflow.example.com\n"
    assert invoke("config", "get", "api_key").stdout == "afp_abcd…\n"
    assert invoke("config", "get", "api_key", "--show-secret").stdout == "afp_abcdefghijklmnop\n"
    listed = json.loads(invoke("config", "list", "-o", "json").stdout)
    by_key = {s["key"]: s for s in listed["settings"]}
    assert by_key["api_key"]["value"] == "afp_abcd…" and by_key["api_key"]["source"] == "file"
    assert "afp_abcdefghijklmnop" not in invoke("config", "list").stdout
    assert invoke("config", "unset", "api_key").exit_code == 0
    assert invoke("config", "get", "api_key").exit_code == 1


def test_environment_overrides_the_file(invoke: Invoke) -> None:
    invoke("config", "set", "base_url", "https://from-file.example.com")
    result = invoke("config", "get", "base_url", env={"AIRFLOW_PLATFORM_URL": "http://from-env:9"})
    assert result.stdout == "http://from-env:9\n"
    listed = json.loads(
        invoke("config", "list", "-o", "json", env={"AIRFLOW_PLATFORM_URL": "http://e"}).stdout
    )
    assert {s["key"]: s["source"] for s in listed["settings"]}["base_url"] == "env"


def test_config_refuses_bad_values(invoke: Invoke) -> None:
    assert invoke("config", "set", "colour", "red").exit_code == 2
    one_line_error(
        invoke("config", "set", "base_url", "airflow.example.com"), "Error: base_url must start with"
    )
    one_line_error(invoke("config", "set", "timeout", "soon"), "Error: timeout must be a positive number")


def test_commands_use_the_config_file(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    invoke("config", "set", "base_url", BASE)
    invoke("config", "set", "api_key", "afp_from_file")
    invoke("config", "set", "tenant", "team-a")
    route = airflow3.get("/api/v2/dags").respond(json={"dags": [], "total_entries": 0})
    assert invoke("dags", "list").exit_code == 0
    assert route.calls.last.request.headers["X-API-Key"] == "afp_from_file"
    assert route.calls.last.request.headers["X-Tenant-ID"] == "team-a"
    invoke("--tenant", "team-b", "dags", "list")
    assert route.calls.last.request.headers["X-Tenant-ID"] == "team-b", "root flags win"


def test_no_server_configured(invoke: Invoke) -> None:
    one_line_error(invoke("dags", "list"), "Error: No server configured")


# --- dags ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("configured")
def test_dags_list_table_and_json(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    route = airflow3.get("/api/v2/dags").mock(
        side_effect=paged([dag_v2(f"etl_{i}") for i in range(3)], "dags")
    )
    table = invoke("dags", "list", "--tags", "production, critical", "--limit", "2")
    assert table.exit_code == 0, table.output
    assert "etl_0" in table.stdout and "0 0 * * *" in table.stdout and "etl_2" not in table.stdout
    assert "Showing 1-2 of 3" in table.stderr
    assert route.calls.last.request.url.params.get_list("tags") == ["production", "critical"]
    every = json.loads(invoke("dags", "list", "--all", "--limit", "2", "-o", "json").stdout)
    assert [d["dag_id"] for d in every["dags"]] == ["etl_0", "etl_1", "etl_2"] and every["total_entries"] == 3
    assert every["dags"][0]["schedule_interval"] == {
        "__type": "CronExpression",
        "value": "0 0 * * *",
        "days": None,
        "seconds": None,
        "microseconds": None,
    }


@pytest.mark.usefixtures("configured")
def test_dags_get_errors_are_one_line(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags/nope").respond(404, json={"detail": "The Dag with ID: `nope` was not found"})
    line = one_line_error(invoke("dags", "get", "nope"), "Error: RESOURCE_NOT_FOUND: The Dag with ID: `nope`")
    assert "(request req_" in line
    as_json = invoke("dags", "get", "nope", "-o", "json")
    assert as_json.exit_code == 1 and as_json.stdout == ""
    error = json.loads(as_json.stderr)["error"]
    assert (
        error["code"] == "RESOURCE_NOT_FOUND"
        and error["status"] == 404
        and error["request_id"].startswith("req_")
    )


@pytest.mark.usefixtures("configured")
def test_auth_failure_hints_at_the_key(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get("/api/v1/platform/tenants").respond(
        401,
        json={"error": {"code": "AUTHENTICATION_FAILED", "message": "Invalid, expired or revoked API key."}},
    )
    line = one_line_error(invoke("tenants", "list"), "Error: AUTHENTICATION_FAILED")
    assert "AIRFLOW_PLATFORM_API_KEY" in line


@pytest.mark.usefixtures("configured")
def test_trigger_with_conf_and_wait(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    trigger = airflow3.post("/api/v2/dags/etl/dagRuns").respond(json=run_v2("etl", "manual_1"))
    airflow3.get("/api/v2/dags/etl/dagRuns/manual_1").mock(
        side_effect=[
            httpx.Response(200, json=run_v2("etl", "manual_1", "running")),
            httpx.Response(200, json=run_v2("etl", "manual_1", "success")),
        ]
    )
    result = invoke(
        "dags", "trigger", "etl", "--conf", '{"batch_size": 5000}', "--wait", "--poll-interval", "0.1"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(trigger.calls.last.request.content)["conf"] == {"batch_size": 5000}
    assert "success" in result.stdout and "Started run manual_1" in result.stderr


@pytest.mark.usefixtures("configured")
def test_trigger_wait_exits_1_when_the_run_fails(invoke: Invoke, airflow2: respx.MockRouter) -> None:
    airflow2.post("/api/v1/dags/etl/dagRuns").respond(json=run_v1("etl", "r"))
    airflow2.get("/api/v1/dags/etl/dagRuns/r").respond(json=run_v1("etl", "r", "failed"))
    result = invoke("dags", "trigger", "etl", "--wait", "--poll-interval", "0.1", "-o", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["state"] == "failed"


@pytest.mark.usefixtures("configured")
def test_trigger_refuses_bad_conf_before_any_request(invoke: Invoke, api: respx.MockRouter) -> None:
    for conf in ("{not json", "[1, 2]"):
        result = invoke("dags", "trigger", "etl", "--conf", conf)
        assert result.exit_code == 2 and "--conf" in result.stderr
    assert not api.calls


@pytest.mark.usefixtures("configured")
def test_pause_unpause(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    airflow3.patch("/api/v2/dags/etl").respond(json=dag_v2("etl", is_paused=True))
    result = invoke("dags", "pause", "etl")
    assert result.exit_code == 0 and "Paused etl." in result.stderr


@pytest.mark.usefixtures("configured")
def test_backfill_on_airflow3(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    route = airflow3.post("/api/v2/backfills").respond(
        json={
            "id": 3,
            "dag_id": "etl",
            "from_date": "2024-01-01T00:00:00Z",
            "to_date": "2024-01-31T00:00:00Z",
            "reprocess_behavior": "failed",
            "max_active_runs": 2,
        }
    )
    result = invoke(
        "dags",
        "backfill",
        "etl",
        "--start-date",
        "2024-01-01",
        "--end-date",
        "2024-01-31",
        "--reprocess",
        "failed",
        "--max-active-runs",
        "2",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(route.calls.last.request.content)
    assert (body["reprocess_behavior"], body["max_active_runs"]) == ("failed", 2)


@pytest.mark.usefixtures("configured")
def test_backfill_on_airflow2_says_why_and_fails(invoke: Invoke, airflow2: respx.MockRouter) -> None:
    line = one_line_error(
        invoke("dags", "backfill", "etl", "--start-date", "2024-01-01", "--end-date", "2024-01-31"),
        "Error: NOT_SUPPORTED: Backfill is not available over Airflow 2's REST API",
    )
    assert "airflow dags backfill etl" in line


# --- tasks --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("configured")
def test_tasks_by_execution_date(invoke: Invoke, airflow2: respx.MockRouter) -> None:
    runs = airflow2.get("/api/v1/dags/etl/dagRuns").respond(
        json={"dag_runs": [run_v1("etl", RUN)], "total_entries": 1}
    )
    clear = airflow2.post("/api/v1/dags/etl/clearTaskInstances").respond(
        json={"task_instances": [{"dag_id": "etl", "task_id": "validate", "dag_run_id": RUN}]}
    )
    airflow2.get(f"/api/v1/dags/etl/dagRuns/{RUN_PATH}/taskInstances/validate").respond(
        json=ti("etl", RUN, "validate", try_number=2)
    )
    airflow2.get(f"/api/v1/dags/etl/dagRuns/{RUN_PATH}/taskInstances/validate/logs/2").respond(
        text="line 1\nline 2\n"
    )
    result = invoke("tasks", "clear", "etl", "--task", "validate", "--execution-date", "2024-01-15")
    assert result.exit_code == 0, result.output
    params = runs.calls.last.request.url.params
    assert params["execution_date_gte"] == "2024-01-15T00:00:00+00:00"
    assert params["execution_date_lte"] == "2024-01-15T23:59:59.999999+00:00"
    assert json.loads(clear.calls.last.request.content)["dag_run_id"] == RUN
    assert "Cleared 1 task instance" in result.stderr
    logs = invoke("tasks", "logs", "etl", "--task", "validate", "--execution-date", "2024-01-15")
    assert logs.exit_code == 0 and logs.stdout == "line 1\nline 2\n"
    shown = invoke("tasks", "get", "etl", "validate", "--run-id", RUN, "-o", "json")
    assert json.loads(shown.stdout)["try_number"] == 2


@pytest.mark.usefixtures("configured")
def test_ambiguous_or_missing_execution_date(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    route = airflow3.get("/api/v2/dags/etl/dagRuns").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "dag_runs": [
                        run_v2("etl", "a", logical_date="2024-01-15T10:00:00Z"),
                        run_v2("etl", "b", logical_date="2024-01-15T11:00:00Z"),
                    ],
                    "total_entries": 2,
                },
            ),
            httpx.Response(200, json={"dag_runs": [], "total_entries": 0}),
        ]
    )
    one_line_error(
        invoke("tasks", "logs", "etl", "--task", "t", "--execution-date", "2024-01-15"), "Error: 2 runs"
    )
    one_line_error(
        invoke("tasks", "logs", "etl", "--task", "t", "--execution-date", "2024-01-16T00:00:00+00:00"),
        "Error: RESOURCE_NOT_FOUND: No run of etl",
    )
    assert route.calls.last.request.url.params["logical_date_gte"] == "2024-01-16T00:00:00+00:00"
    assert invoke("tasks", "logs", "etl", "--task", "t").exit_code == 2


@pytest.mark.usefixtures("configured")
def test_logs_follow_until_the_task_finishes(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    base = f"/api/v2/dags/etl/dagRuns/{RUN_PATH}/taskInstances/load"
    airflow3.get(base).mock(
        side_effect=[
            httpx.Response(200, json=ti("etl", RUN, "load", "running")),
            httpx.Response(200, json=ti("etl", RUN, "load", "running")),
            httpx.Response(200, json=ti("etl", RUN, "load", "success")),
        ]
    )
    airflow3.get(f"{base}/logs/1").mock(
        side_effect=[
            httpx.Response(200, json={"content": [{"event": "one"}], "continuation_token": None}),
            httpx.Response(
                200, json={"content": [{"event": "one"}, {"event": "two"}], "continuation_token": None}
            ),
            httpx.Response(
                200,
                json={
                    "content": [{"event": "one"}, {"event": "two"}, {"event": "three"}],
                    "continuation_token": None,
                },
            ),
        ]
    )
    result = invoke(
        "tasks", "logs", "etl", "--task", "load", "--run-id", RUN, "--follow", "--poll-interval", "0.2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "one\ntwo\nthree\n"


def test_unseen_lines_survive_a_rewritten_header() -> None:
    from airflow_platform.cli.tasks import unseen_lines

    assert unseen_lines([], ["a", "b"]) == ["a", "b"]
    assert unseen_lines(["a", "b"], ["a", "b", "c"]) == ["c"]
    assert unseen_lines(["src: worker", "l1", "l2"], ["src: file", "l1", "l2", "l3"]) == ["l3"]
    assert unseen_lines(["x", "l1"], ["y", "l0", "l2"]) == ["y", "l0", "l2"]


@pytest.mark.usefixtures("configured")
def test_tasks_list(invoke: Invoke, airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags/etl/tasks").respond(
        json={
            "tasks": [
                {
                    "task_id": "validate_source_data",
                    "operator_name": "PythonOperator",
                    "downstream_task_ids": ["load"],
                },
                {"task_id": "load", "operator_name": "PythonOperator", "downstream_task_ids": []},
            ],
            "total_entries": 2,
        }
    )
    result = invoke("tasks", "list", "etl")
    assert result.exit_code == 0 and "validate_source_data" in result.stdout


# --- tenants, api-keys, health --------------------------------------------------------------------


@pytest.mark.usefixtures("configured")
def test_tenants(invoke: Invoke, api: respx.MockRouter) -> None:
    create = api.post("/api/v1/platform/tenants").respond(201, json=tenant("analytics"))
    result = invoke(
        "tenants",
        "create",
        "analytics",
        "--display-name",
        "Analytics",
        "--admin-user",
        "a@example.com",
        "--resource-limit",
        "cpu=4000m",
        "--feature",
        "datakits",
        "--metadata",
        "cost_center=CC-1",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(create.calls.last.request.content) == {
        "tenant_id": "analytics",
        "display_name": "Analytics",
        "admin_users": ["a@example.com"],
        "resource_limits": {"cpu": "4000m"},
        "features": {"datakits": True},
        "metadata": {"cost_center": "CC-1"},
    }
    delete = api.delete("/api/v1/platform/tenants/analytics").respond(204)
    refused = invoke("tenants", "delete", "analytics")
    one_line_error(refused, "Error: Refusing to delete tenant analytics without --yes")
    assert not delete.called
    assert invoke("tenants", "delete", "analytics", "--yes", "--force").exit_code == 0
    assert delete.calls.last.request.url.params["force"] == "true"
    one_line_error(invoke("tenants", "create", "Bad Id", "--display-name", "x"), "Error: VALIDATION_ERROR")


@pytest.mark.usefixtures("configured")
def test_api_keys(invoke: Invoke, api: respx.MockRouter) -> None:
    api.post("/api/v1/platform/api-keys").respond(201, json={**api_key(), "key": "afp_shown_once"})
    api.get("/api/v1/platform/api-keys").respond(json={"api_keys": [api_key()], "total_entries": 1})
    api.delete("/api/v1/platform/api-keys/key_1").respond(json=api_key(status="revoked"))
    created = invoke(
        "api-keys", "create", "--name", "ci", "--scope", "tenants:read", "--scope", "airflow:read"
    )
    assert created.exit_code == 0 and created.stdout.strip().endswith("afp_shown_once")
    assert "shown once" in created.stderr
    assert "key_1" in invoke("api-keys", "list").stdout
    assert invoke("api-keys", "revoke", "key_1", "--yes").exit_code == 0


@pytest.mark.usefixtures("configured")
def test_health(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get("/api/v1/platform/health").respond(json=health_body("3.3.2"))
    result = invoke("health")
    assert result.exit_code == 0 and "Airflow 3.3.2" in result.stdout
    assert json.loads(invoke("health", "-o", "json").stdout)["airflow_version"] == "3.3.2"


@pytest.mark.usefixtures("configured")
def test_every_group_speaks_yaml_as_it_speaks_json(invoke: Invoke, api: respx.MockRouter) -> None:
    """``-o yaml`` is the ``-o json`` document, in every group (not only webhooks)."""
    import yaml

    api.get("/api/v1/platform/health").respond(json=health_body("3.3.2"))
    api.get("/api/v1/platform/tenants").respond(json={"tenants": [tenant("analytics")], "total_entries": 1})
    api.get("/api/v1/platform/api-keys").respond(json={"api_keys": [api_key()], "total_entries": 1})
    for command in (["health"], ["tenants", "list"], ["api-keys", "list"]):
        as_json = invoke(*command, "-o", "json")
        as_yaml = invoke(*command, "--output", "YAML")
        assert as_json.exit_code == 0 and as_yaml.exit_code == 0, as_yaml.output
        assert not as_yaml.stdout.lstrip().startswith("{"), as_yaml.stdout
        assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    refused = invoke("health", "-o", "xml")
    assert refused.exit_code == 2 and "xml" in refused.output


@pytest.mark.usefixtures("configured")
def test_unreachable_server(invoke: Invoke, api: respx.MockRouter, sleeps: list[float]) -> None:
    api.get("/api/v1/platform/health").mock(side_effect=httpx.ConnectError("Connection refused"))
    line = one_line_error(invoke("health"), "Error: CONNECTION_ERROR: Could not reach http://platform.test")
    assert "base_url" in line
    assert len(sleeps) == 2, "retried before giving up"
    assert BASE in line
