"""``airflow-cli webhooks`` in-process against a respx-mocked server."""

from __future__ import annotations

import json

import pytest
import respx
import yaml

from tests.cli.conftest import Invoke
from tests.cli.test_cli import one_line_error
from tests.sdk.fakes import envelope
from tests.sdk.test_webhooks import (
    HOOKS,
    MSG,
    WH,
    delivery,
    delivery_detail,
    paged_total,
    rotated,
    webhook,
)

pytestmark = pytest.mark.usefixtures("configured")
COMMANDS = {
    "list",
    "get",
    "create",
    "update",
    "delete",
    "rotate-secret",
    "test",
    "deliveries",
    "delivery",
    "redeliver",
}


def body(route: respx.Route) -> object:
    return json.loads(route.calls.last.request.content)


def test_every_command_has_help(invoke: Invoke) -> None:
    group = invoke("webhooks", "--help")
    assert group.exit_code == 0
    for command in COMMANDS:
        assert command in group.stdout
        result = invoke("webhooks", command, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout, (command, result.output)
    assert "dag.success" in invoke("webhooks", "create", "--help").stdout


def test_create_with_every_option_prints_the_secret_once(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(HOOKS).respond(201, json={**webhook(enabled=False), "secret": "whsec_abc"})
    result = invoke(
        "webhooks", "create", "--name", "DAG Success Notifier", "--url", "https://your-app.com/webhooks/airflow",
        "--event", "dag.success", "--event", "dag.failure,task.failure",
        "--dag-id", "bronze_to_silver_pipeline", "--tag", "production",
        "--header", "X-Webhook-Secret=your-secret-key", "--header", "X-Team=a=b",
        "--max-attempts", "5", "--backoff", "10,30,60", "--disable", "--description", "pager",
        "--tenant-id", "team-a",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert body(route) == {
        "name": "DAG Success Notifier",
        "url": "https://your-app.com/webhooks/airflow",
        "events": ["dag.success", "dag.failure", "task.failure"],
        "filters": {"dag_ids": ["bronze_to_silver_pipeline"], "tags": ["production"]},
        "headers": {"X-Webhook-Secret": "your-secret-key", "X-Team": "a=b"},
        "retry_policy": {"max_attempts": 5, "backoff_seconds": [10, 30, 60]},
        "enabled": False,
        "description": "pager",
        "tenant_id": "team-a",
    }
    assert result.stdout.strip().splitlines()[-1] == "whsec_abc" and result.stdout.count("whsec_abc") == 1
    assert "shown only this once" in result.stderr and "not shown again" in result.stderr
    assert "Created webhook wh_0123456789abcdef" in result.stderr
    assert "your-secret-key" not in result.stdout
    # --tenant, as api-keys create spells it, is the same option
    again = invoke(
        "webhooks", "create", "--name", "n", "--url", "https://x.example/h", "-e", "dag.success",
        "--tenant", "team-b",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert body(route)["tenant_id"] == "team-b"

    minimal = invoke("webhooks", "create", "--name", "n", "--url", "https://e.com/h", "-e", "task.retry")
    assert minimal.exit_code == 0, minimal.output
    assert body(route) == {"name": "n", "url": "https://e.com/h", "events": ["task.retry"], "enabled": True}


def test_create_json_and_yaml_carry_the_secret(invoke: Invoke, api: respx.MockRouter) -> None:
    api.post(HOOKS).respond(201, json={**webhook(), "secret": "whsec_abc"})
    args = ("webhooks", "create", "--name", "n", "--url", "https://e.com/h", "-e", "dag.success")
    as_json = invoke(*args, "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["secret"] == "whsec_abc" and "not shown again" in as_json.stderr
    as_yaml = invoke(*args, "--output", "yaml")
    parsed = yaml.safe_load(as_yaml.stdout)
    assert parsed["secret"] == "whsec_abc" and parsed["webhook_id"] == WH
    assert parsed["created_at"].startswith("2024-01-15")


def test_create_refusals(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(HOOKS).mock(
        return_value=envelope(
            "VALIDATION_ERROR", "url resolves to 10.0.0.1, a non-public address; list it in …", 400
        )
    )
    args = ("webhooks", "create", "--name", "n", "--url")
    one_line_error(invoke(*args, "http://10.0.0.1/", "-e", "dag.success"), "Error: VALIDATION_ERROR: url")
    assert route.call_count == 1
    line = one_line_error(invoke(*args, "https://e.com/h", "-e", "dag.started"), "Error: VALIDATION_ERROR")
    assert "unknown event(s) dag.started" in line
    bad_header = invoke(*args, "https://e.com/h", "-e", "dag.success", "--header", "novalue")
    assert bad_header.exit_code == 2 and "NAME=VALUE" in bad_header.stderr
    bad_backoff = invoke(*args, "https://e.com/h", "-e", "dag.success", "--backoff", "10,soon")
    assert bad_backoff.exit_code == 2 and "10,30,60" in bad_backoff.stderr
    one_line_error(
        invoke(*args, "https://e.com/h", "-e", "dag.success", "--header", "webhook-id=x"),
        "Error: VALIDATION_ERROR",
    )
    no_event = invoke(*args, "https://e.com/h")
    assert no_event.exit_code == 2 and "--event" in no_event.stderr
    assert route.call_count == 1, "client-side checks sent nothing"


def test_list_table_json_yaml_and_paging(invoke: Invoke, api: respx.MockRouter) -> None:
    items = [webhook(f"wh_{i:016x}", name=f"hook-{i}") for i in range(3)]
    route = api.get(HOOKS).mock(side_effect=paged_total(items, "webhooks"))
    result = invoke("webhooks", "list", "--event", "dag.failure", "--disabled", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "hook-0" in result.stdout and "hook-2" not in result.stdout
    assert "Showing 1-2 of 3" in result.stderr
    assert dict(route.calls.last.request.url.params) == {
        "limit": "2",
        "offset": "0",
        "event": "dag.failure",
        "enabled": "false",
    }
    every = json.loads(invoke("webhooks", "list", "--all", "--limit", "2", "-o", "json").stdout)
    assert [w["name"] for w in every["webhooks"]] == ["hook-0", "hook-1", "hook-2"] and every["total"] == 3
    as_yaml = yaml.safe_load(invoke("webhooks", "list", "-o", "yaml").stdout)
    assert len(as_yaml["webhooks"]) == 3 and as_yaml["webhooks"][0]["headers"] == {"X-Webhook-Secret": "***"}


def test_get_masks_header_values(invoke: Invoke, api: respx.MockRouter) -> None:
    api.get(f"{HOOKS}/{WH}").respond(json=webhook())
    result = invoke("webhooks", "get", WH)
    assert result.exit_code == 0, result.output
    assert "***" in result.stdout and "bronze_to_silver_pipeline" in result.stdout
    assert "10, 30, 60" in result.stdout
    api.get(f"{HOOKS}/wh_nope").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No webhook wh_nope.", 404))
    one_line_error(invoke("webhooks", "get", "wh_nope"), "Error: RESOURCE_NOT_FOUND: No webhook wh_nope.")
    as_json = invoke("webhooks", "get", "wh_nope", "-o", "json")
    assert as_json.exit_code == 1 and json.loads(as_json.stderr)["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_update_sends_only_what_changes(invoke: Invoke, api: respx.MockRouter) -> None:
    get = api.get(f"{HOOKS}/{WH}").respond(json=webhook())
    patch = api.patch(f"{HOOKS}/{WH}").respond(json=webhook(enabled=False))

    result = invoke("webhooks", "update", WH, "--disable", "--name", "renamed", "-e", "dag.failure")
    assert result.exit_code == 0, result.output
    assert body(patch) == {"name": "renamed", "enabled": False, "events": ["dag.failure"]}
    assert get.call_count == 0 and "Updated webhook" in result.stderr

    invoke("webhooks", "update", WH, "--tag", "gold,silver", "--max-attempts", "7")
    assert body(patch) == {
        "filters": {"dag_ids": ["bronze_to_silver_pipeline"], "tags": ["gold", "silver"]},
        "retry_policy": {"max_attempts": 7, "backoff_seconds": [10, 30, 60]},
    }, "the part not given is kept"
    assert get.call_count == 1

    invoke("webhooks", "update", WH, "--dag-id", "a", "--tag", "b", "--backoff", "5", "--max-attempts", "2")
    assert body(patch) == {
        "filters": {"dag_ids": ["a"], "tags": ["b"]},
        "retry_policy": {"max_attempts": 2, "backoff_seconds": [5]},
    }
    assert get.call_count == 1, "nothing to keep, nothing read"

    invoke("webhooks", "update", WH, "--clear-filters", "--clear-headers", "--enable")
    assert body(patch) == {"enabled": True, "headers": {}, "filters": {"dag_ids": [], "tags": []}}
    invoke("webhooks", "update", WH, "-H", "X-A=1", "--description", "d")
    assert body(patch) == {"description": "d", "headers": {"X-A": "1"}}

    nothing = invoke("webhooks", "update", WH)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr
    both = invoke("webhooks", "update", WH, "--clear-headers", "-H", "X-A=1")
    assert both.exit_code == 2
    assert patch.call_count == 5


def test_delete_asks_unless_yes(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.delete(f"{HOOKS}/{WH}").respond(204)
    one_line_error(invoke("webhooks", "delete", WH), f"Error: Refusing to delete webhook {WH}")
    assert route.call_count == 0
    result = invoke("webhooks", "delete", WH, "--yes")
    assert result.exit_code == 0 and f"Deleted webhook {WH}" in result.stderr
    assert json.loads(invoke("webhooks", "delete", WH, "-y", "-o", "json").stdout) == {"deleted": WH}
    assert route.call_count == 2


def test_rotate_secret_prints_the_new_secret_once(invoke: Invoke, api: respx.MockRouter) -> None:
    api.post(f"{HOOKS}/{WH}/rotate-secret").respond(json=rotated())
    result = invoke("webhooks", "rotate-secret", WH)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "whsec_new" and "2024-01-16" in result.stdout
    assert "not shown again" in result.stderr
    as_json = json.loads(invoke("webhooks", "rotate-secret", WH, "-o", "json").stdout)
    assert as_json["secret"] == "whsec_new" and as_json["previous_secret_expires_at"].startswith("2024-01-16")


def test_test_exits_1_when_the_delivery_failed(invoke: Invoke, api: respx.MockRouter) -> None:
    route = api.post(f"{HOOKS}/{WH}/test")
    route.respond(json=delivery(event="webhook.test"))
    ok = invoke("webhooks", "test", WH)
    assert ok.exit_code == 0 and "succeeded" in ok.stdout and "webhook.test" in ok.stdout
    route.respond(json=delivery(event="webhook.test", status="failed", response_status=500, error="HTTP 500"))
    failed = invoke("webhooks", "test", WH, "-o", "json")
    assert failed.exit_code == 1 and json.loads(failed.stdout)["error"] == "HTTP 500"


def test_deliveries_delivery_redeliver(invoke: Invoke, api: respx.MockRouter) -> None:
    items = [delivery(f"msg_{i:026d}", status="failed", error="timed out") for i in range(3)]
    route = api.get(f"{HOOKS}/{WH}/deliveries").mock(side_effect=paged_total(items, "deliveries"))
    result = invoke("webhooks", "deliveries", WH, "--status", "failed", "-e", "dag.success", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "msg_00000000000000000000000000" in result.stdout and "timed out" in result.stdout
    assert "Showing 1-2 of 3" in result.stderr
    params = route.calls.last.request.url.params
    assert (params["status"], params["event"]) == ("failed", "dag.success")
    every = json.loads(invoke("webhooks", "deliveries", WH, "--all", "--limit", "1", "-o", "json").stdout)
    assert len(every["deliveries"]) == 3 and every["total"] == 3
    assert invoke("webhooks", "deliveries", WH, "--status", "lost").exit_code == 2

    api.get(f"{HOOKS}/{WH}/deliveries/{MSG}").respond(json=delivery_detail())
    shown = invoke("webhooks", "delivery", WH, MSG)
    assert shown.exit_code == 0, shown.output
    assert "Attempts" in shown.stdout and '"dag_id": "etl"' in shown.stdout
    detail = yaml.safe_load(invoke("webhooks", "delivery", WH, MSG, "-o", "yaml").stdout)
    assert detail["payload"]["data"]["dag_id"] == "etl" and detail["attempt_log"][0]["attempt"] == 1

    again = api.post(f"{HOOKS}/{WH}/deliveries/{MSG}/redeliver").respond(202, json=delivery(status="pending"))
    queued = invoke("webhooks", "redeliver", WH, MSG)
    assert queued.exit_code == 0 and f"Queued {MSG}" in queued.stderr and again.call_count == 1
