"""``airflow-cli datakits`` in-process against a respx-mocked server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from tests.cli.conftest import Invoke
from tests.cli.test_cli import one_line_error
from tests.sdk.fakes import datakit, deployment, deployment_status, envelope, paged

KITS = "/api/v1/datakits"
DEPLOYMENTS = "/api/v1/datakits/deployments"
DAG_ID = "datakit__customer-etl__production"

pytestmark = pytest.mark.usefixtures("configured")


def test_list_with_filters_table_and_json(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.get(KITS).mock(side_effect=paged([datakit(f"kit-{i}") for i in range(3)], "datakits"))
    result = invoke(
        "datakits", "list", "--type", "transformation", "--tag", "customer", "--tag", "gold,daily",
        "--search", "kit", "--limit", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "kit-0" in result.stdout and "kit-2" not in result.stdout
    assert "Showing 1-2 of 3" in result.stderr
    params = route.calls.last.request.url.params
    assert (params["type"], params["tags"], params["search"]) == (
        "transformation",
        "customer,gold,daily",
        "kit",
    )
    every = json.loads(invoke("datakits", "list", "--all", "--limit", "2", "-o", "json").stdout)
    assert [k["name"] for k in every["datakits"]] == ["kit-0", "kit-1", "kit-2"] and every[
        "total_entries"
    ] == 3


def test_get_shows_the_manifest_and_versions(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.get(f"{KITS}/customer-etl").respond(json=datakit())
    result = invoke("datakits", "get", "customer-etl", "--version", "1.0.0")
    assert result.exit_code == 0, result.output
    assert "bronze.customers" in result.stdout and "Versions" in result.stdout
    assert route.calls.last.request.url.params["version"] == "1.0.0"
    api.get(f"{KITS}/nope").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No DataKit named nope.", 404))
    one_line_error(invoke("datakits", "get", "nope"), "Error: RESOURCE_NOT_FOUND: No DataKit named nope.")


def test_register_from_a_file_with_the_reference_flags(
    invoke: Invoke, api: respx.MockRouter, tmp_path: Path
) -> None:
    route = api.post(KITS).respond(201, json=datakit())
    path = tmp_path / "datakit.yaml"
    path.write_text("name: customer-etl\nversion: 0.0.1\nimage: kits/etl:dev\ntags: [customer]\n")
    result = invoke(
        "datakits", "register", "--file", str(path),
        "--image", "registry.localhost/datakits/customer-etl:1.0.0", "--version", "1.0.0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Registered customer-etl 1.0.0" in result.stderr
    assert json.loads(route.calls.last.request.content) == {
        "name": "customer-etl",
        "version": "1.0.0",
        "image": "registry.localhost/datakits/customer-etl:1.0.0",
        "tags": ["customer"],
    }
    path.write_text("name: customer-etl\nversion: one\nimage: kits/etl:dev\n")
    one_line_error(invoke("datakits", "register", "--file", str(path)), "Error: VALIDATION_ERROR")
    assert route.call_count == 1
    one_line_error(
        invoke("datakits", "register", "--file", str(tmp_path / "nope.yaml")), "Error: Cannot read"
    )


def test_deploy_merges_configuration_and_waits(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(f"{KITS}/customer-etl/deploy").respond(201, json=deployment())
    api.get(f"{DEPLOYMENTS}/{DAG_ID}").mock(
        side_effect=[
            httpx.Response(200, json=deployment_status("pending")),
            httpx.Response(200, json=deployment_status("active")),
        ]
    )
    result = invoke(
        "datakits", "deploy", "customer-etl", "--environment", "production", "--schedule", "0 2 * * *",
        "--configuration", '{"batch_size": 10, "mode": "full"}', "--config", "batch_size=5000",
        "--config", "label=nightly run", "--runtime", "docker", "--paused",
        "--notify-failure", "alerts@example.com", "--wait", "--poll-interval", "0.1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(route.calls.last.request.content) == {
        "environment": "production",
        "schedule": "0 2 * * *",
        "configuration": {"batch_size": 5000, "mode": "full", "label": "nightly run"},
        "notifications": {"on_failure": ["alerts@example.com"]},
        "runtime": "docker",
        "paused": True,
    }
    assert f"Deployed customer-etl 1.0.0 to production (DAG {DAG_ID})" in result.stderr
    assert "active" in result.stdout


def test_deploy_refuses_bad_options_before_any_request(invoke: Invoke, api: respx.MockRouter) -> None:
    assert invoke("datakits", "deploy", "k", "--config", "no-equals").exit_code == 2
    assert invoke("datakits", "deploy", "k", "--configuration", "[1]").exit_code == 2
    assert invoke("datakits", "deploy", "k", "--runtime", "lambda").exit_code == 2
    assert not api.calls


def test_status_table_and_one_environment(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get(f"{KITS}/customer-etl/deployments").respond(
        json={"deployments": [deployment(), deployment(environment="staging")], "total_entries": 2}
    )
    staging = "datakit__customer-etl__staging"
    api.get(f"{DEPLOYMENTS}/{DAG_ID}").respond(json=deployment_status("failing"))
    api.get(f"{DEPLOYMENTS}/{staging}").respond(
        json=deployment_status("pending", id=staging, dag_id=staging, environment="staging")
    )
    table = invoke("datakits", "status", "customer-etl")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    production = next(line for line in lines if "production" in line)
    assert "failing" in production and "success" in production, "the newest run's state"
    assert "2024-01-16 02:00:00" in production
    assert "pending" in next(line for line in lines if "staging" in line)
    one = json.loads(invoke("datakits", "status", "customer-etl", "-e", "production", "-o", "json").stdout)
    assert one["status"] == "failing" and one["id"] == DAG_ID
    one_line_error(
        invoke("datakits", "status", "customer-etl", "--environment", "qa"),
        "Error: RESOURCE_NOT_FOUND: DataKit customer-etl has no deployment in environment 'qa'.",
    )


def test_status_of_a_kit_deployed_nowhere(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get(f"{KITS}/idle/deployments").respond(json={"deployments": [], "total_entries": 0})
    result = invoke("datakits", "status", "idle")
    assert result.exit_code == 0 and "not deployed anywhere" in result.stderr


def test_deployments_rollback_undeploy_delete_version(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get(DEPLOYMENTS).respond(json={"deployments": [deployment()], "total_entries": 1})
    assert DAG_ID in invoke("datakits", "deployments").stdout

    rollback = api.post(f"{KITS}/customer-etl/rollback").respond(json=deployment(version="0.9.0"))
    result = invoke("datakits", "rollback", "customer-etl", "--version", "0.9.0")
    assert result.exit_code == 0, result.output
    assert json.loads(rollback.calls.last.request.content) == {
        "version": "0.9.0",
        "environment": "production",
    }
    assert "Rolled customer-etl back to 0.9.0 in production" in result.stderr

    api.get(f"{KITS}/customer-etl/deployments").respond(
        json={"deployments": [deployment()], "total_entries": 1}
    )
    undeploy = api.delete(f"{DEPLOYMENTS}/{DAG_ID}").respond(204)
    one_line_error(
        invoke("datakits", "undeploy", "customer-etl", "--environment", "production"),
        "Error: Refusing to undeploy customer-etl from production",
    )
    assert not undeploy.called
    assert invoke("datakits", "undeploy", "customer-etl", "-e", "production", "--yes").exit_code == 0
    assert undeploy.called

    delete = api.delete(f"{KITS}/customer-etl/versions/1.0.0").mock(
        return_value=envelope("CONFLICT", "Version 1.0.0 is deployed in production.", 409)
    )
    one_line_error(invoke("datakits", "delete-version", "customer-etl", "1.0.0"), "Error: Refusing to delete")
    assert not delete.called
    one_line_error(
        invoke("datakits", "delete-version", "customer-etl", "1.0.0", "--yes"),
        "Error: CONFLICT: Version 1.0.0 is deployed in production.",
    )
