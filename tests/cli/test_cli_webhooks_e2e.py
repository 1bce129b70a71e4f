"""``airflow-cli webhooks`` as a user runs it, against the real server and a loopback receiver."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from standardwebhooks.webhooks import Webhook as Verifier

from tests import harness
from tests.e2e.conftest import MADE_SECRETS, Actors
from tests.webhooks.receivers import Receiver

pytestmark = pytest.mark.e2e
CLI = str(harness.VENV_BIN / "airflow-cli")


def run(
    actors: Actors, tmp_path: Path, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        COLUMNS="200",
        AIRFLOW_PLATFORM_URL=actors.base_url,
        AIRFLOW_PLATFORM_API_KEY=key or actors.alice_key,
    )
    return subprocess.run(
        [CLI, "webhooks", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def test_webhooks_cli(actors: Actors, tmp_path: Path, airflow_server: harness.AirflowServer) -> None:
    name = f"cli-hook-{uuid.uuid4().hex[:8]}"
    token = f"tok-{uuid.uuid4().hex}"
    MADE_SECRETS.append(token)
    with Receiver() as rx:
        created = ok(run(
            actors, tmp_path, "create", "--name", name, "--url", rx.url("/cli"),
            "--event", "dag.success", "--event", "dag.failure,task.retry",
            "--dag-id", "cli_webhook_dag_that_never_runs", "--tag", "cli-e2e",
            "--header", f"X-Token={token}", "--max-attempts", "4", "--backoff", "1,2",
        ))  # fmt: skip
        secret = created.stdout.strip().splitlines()[-1]
        MADE_SECRETS.append(secret)
        assert secret.startswith("whsec_") and "not shown again" in created.stderr
        assert token not in created.stdout and "***" in created.stdout
        hook_id = next(w for w in created.stderr.split() if w.startswith("wh_")).rstrip(".")

        shown = json.loads(ok(run(actors, tmp_path, "get", hook_id, "-o", "json")).stdout)
        assert shown["events"] == ["dag.success", "dag.failure", "task.retry"] and "secret" not in shown
        assert shown["filters"] == {"dag_ids": ["cli_webhook_dag_that_never_runs"], "tags": ["cli-e2e"]}
        assert shown["retry_policy"] == {"max_attempts": 4, "backoff_seconds": [1, 2]}
        assert shown["headers"] == {"X-Token": "***"} and shown["tenant_id"] == "team-a"
        assert name in ok(run(actors, tmp_path, "list", "--event", "task.retry")).stdout
        listed = yaml.safe_load(ok(run(actors, tmp_path, "list", "--enabled", "-o", "yaml")).stdout)
        assert hook_id in [w["webhook_id"] for w in listed["webhooks"]]

        tested = ok(run(actors, tmp_path, "test", hook_id))
        assert "succeeded" in tested.stdout and "webhook.test" in tested.stdout
        [request] = rx.wait_for(1)
        assert request.headers["x-token"] == token
        Verifier(secret).verify(request.body, request.headers)

        rotated = ok(run(actors, tmp_path, "rotate-secret", hook_id))
        new_secret = rotated.stdout.strip().splitlines()[-1]
        MADE_SECRETS.append(new_secret)
        assert (
            new_secret.startswith("whsec_") and new_secret != secret and "not shown again" in rotated.stderr
        )

        rx.status = 503
        failed = run(actors, tmp_path, "test", hook_id, "-o", "json")
        assert failed.returncode == 1, failed.stderr
        failed_delivery = json.loads(failed.stdout)
        assert failed_delivery["status"] == "failed" and failed_delivery["response_status"] == 503
        second = rx.wait_for(2)[1]
        Verifier(new_secret).verify(second.body, second.headers)

        log = json.loads(ok(run(actors, tmp_path, "deliveries", hook_id, "-o", "json")).stdout)
        assert log["total"] == 2 and log["deliveries"][0]["delivery_id"] == failed_delivery["delivery_id"]
        only_failed = ok(run(actors, tmp_path, "deliveries", hook_id, "--status", "failed"))
        assert failed_delivery["delivery_id"] in only_failed.stdout
        assert request.headers["webhook-id"] not in only_failed.stdout
        detail = ok(run(actors, tmp_path, "delivery", hook_id, failed_delivery["delivery_id"]))
        assert "Attempts" in detail.stdout and '"event": "webhook.test"' in detail.stdout

        rx.status = 200
        queued = ok(run(actors, tmp_path, "redeliver", hook_id, failed_delivery["delivery_id"]))
        assert f"Queued {failed_delivery['delivery_id']}" in queued.stderr
        resent = rx.wait_for(3)
        assert len(resent) == 3 and resent[2].headers["webhook-id"] == failed_delivery["delivery_id"]

        def settled() -> dict[str, object] | None:
            result = run(actors, tmp_path, "delivery", hook_id, failed_delivery["delivery_id"], "-o", "json")
            detail = json.loads(ok(result).stdout)
            return detail if detail["status"] != "pending" else None

        done = airflow_server.wait_for("the redelivery recorded", settled, 60, 0.5)
        assert done["status"] == "succeeded"

        updated = json.loads(ok(run(
            actors, tmp_path, "update", hook_id, "--disable", "--tag", "other", "--max-attempts", "2",
            "--clear-headers", "-o", "json",
        )).stdout)  # fmt: skip
        assert updated["enabled"] is False and updated["headers"] == {}
        assert updated["filters"] == {"dag_ids": ["cli_webhook_dag_that_never_runs"], "tags": ["other"]}
        assert updated["retry_policy"] == {"max_attempts": 2, "backoff_seconds": [1, 2]}

        refused = run(actors, tmp_path, "update", hook_id, "--url", "http://127.0.0.2:9/x")
        assert refused.returncode == 1 and refused.stderr.startswith("Error: VALIDATION_ERROR")
        assert "webhook_allowed_hosts" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        other = run(actors, tmp_path, "get", hook_id, key=actors.bob_key)
        assert other.returncode == 1 and other.stderr.startswith("Error: RESOURCE_NOT_FOUND")

        not_confirmed = run(actors, tmp_path, "delete", hook_id)
        assert not_confirmed.returncode == 1 and "without --yes" in not_confirmed.stderr
        assert f"Deleted webhook {hook_id}" in ok(run(actors, tmp_path, "delete", hook_id, "--yes")).stderr
        gone = run(actors, tmp_path, "get", hook_id)
        assert gone.returncode == 1 and gone.stderr.startswith("Error: RESOURCE_NOT_FOUND")
