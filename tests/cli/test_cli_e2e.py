"""``airflow-cli`` as a user runs it: a subprocess, configured by environment or config file."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import harness
from tests.e2e.conftest import MADE_SECRETS, Actors
from tests.sdk.example_dag import example_dag

pytestmark = pytest.mark.e2e
__all__ = ["example_dag"]
CLI = str(harness.VENV_BIN / "airflow-cli")


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(actors: Actors, tmp_path: Path) -> Run:
    """Run ``airflow-cli`` with its own empty config dir; ``key`` None means no key in the env."""

    def run(
        *args: str, key: str | None = actors.admin_key, url: str | None = actors.base_url
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
        env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), COLUMNS="200")
        if url:
            env["AIRFLOW_PLATFORM_URL"] = url
        if key:
            env["AIRFLOW_PLATFORM_API_KEY"] = key
        return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    return run


def failed_with(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {code}"), result.stderr
    return lines[0]


def test_health(cli: Run) -> None:
    table = cli("health")
    assert table.returncode == 0, table.stderr
    assert "metadata DB" in table.stdout
    report = json.loads(cli("health", "-o", "json").stdout)
    assert int(report["airflow_version"].split(".")[0]) == harness.airflow_major()


def test_config_file_instead_of_env(cli: Run, actors: Actors, tmp_path: Path) -> None:
    assert cli("config", "set", "base_url", actors.base_url, key=None, url=None).returncode == 0
    setting = subprocess.run(
        [CLI, "config", "set", "api_key", "-"],
        input=actors.admin_key + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        check=False,
    )
    assert setting.returncode == 0, setting.stderr
    assert (tmp_path / "xdg/airflow-platform/config.json").stat().st_mode & 0o777 == 0o600
    listed = cli("dags", "list", "-o", "json", key=None, url=None)
    assert listed.returncode == 0, listed.stderr
    assert set(json.loads(listed.stdout)) == {"dags", "total_entries"}


def test_dags(cli: Run) -> None:
    listed = cli("dags", "list", "--tags", "production,critical")
    assert listed.returncode == 0, listed.stderr
    assert "DAG id" in listed.stdout
    line = failed_with(cli("dags", "get", "nope"), "RESOURCE_NOT_FOUND")
    assert "nope" in line and "(request req_" in line
    error = json.loads(cli("dags", "trigger", "nope", "--conf", '{"a": 1}', "-o", "json").stderr)["error"]
    assert error["code"] == "RESOURCE_NOT_FOUND" and error["status"] == 404
    backfill = cli("dags", "backfill", "nope", "--start-date", "2024-01-01", "--end-date", "2024-01-31")
    if harness.airflow_major() >= 3:
        failed_with(backfill, "RESOURCE_NOT_FOUND")
    else:
        assert "not available over Airflow 2" in failed_with(backfill, "NOT_SUPPORTED")
    usage = cli("dags", "trigger", "x", "--conf", "not json")
    assert usage.returncode == 2 and "--conf" in usage.stderr


def test_bad_key_and_no_server(cli: Run) -> None:
    assert "AIRFLOW_PLATFORM_API_KEY" in failed_with(
        cli("tenants", "list", key="afp_" + "Q" * 42), "AUTHENTICATION"
    )
    failed_with(cli("health", url=f"http://127.0.0.1:{harness.free_port()}"), "CONNECTION_ERROR")


def test_tenants_round_trip(cli: Run) -> None:
    tenant_id = f"cli-{uuid.uuid4().hex[:8]}"
    created = cli(
        "tenants",
        "create",
        tenant_id,
        "--display-name",
        "CLI Team",
        "--resource-limit",
        "cpu=2",
        "--feature",
        "datakits",
        "-o",
        "json",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["resource_limits"] == {"cpu": "2"}
    failed_with(cli("tenants", "create", tenant_id, "--display-name", "again"), "CONFLICT")
    assert tenant_id in cli("tenants", "list", "--all").stdout
    assert json.loads(cli("tenants", "get", tenant_id, "-o", "json").stdout)["display_name"] == "CLI Team"
    failed_with(cli("tenants", "delete", tenant_id), "Refusing")
    deleted = cli("tenants", "delete", tenant_id, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    failed_with(cli("tenants", "get", tenant_id), "RESOURCE_NOT_FOUND")


def test_api_keys_round_trip(cli: Run, actors: Actors) -> None:
    created = cli(
        "api-keys",
        "create",
        "--name",
        "cli e2e",
        "--scope",
        "tenants:read",
        "-o",
        "json",
        key=actors.alice_key,
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    MADE_SECRETS.append(key["key"])
    assert key["tenant_id"] == "team-a"
    assert key["id"] in cli("api-keys", "list", key=actors.alice_key).stdout
    assert "team-a" in cli("tenants", "list", key=key["key"]).stdout
    failed_with(
        cli("tenants", "create", "x-nope", "--display-name", "x", key=key["key"]), "PERMISSION_DENIED"
    )
    assert cli("api-keys", "revoke", key["id"], "--yes", key=actors.alice_key).returncode == 0
    failed_with(cli("tenants", "list", key=key["key"]), "AUTHENTICATION_FAILED")


def test_example_dag(cli: Run, example_dag: str) -> None:
    assert example_dag in cli("dags", "list", "--tags", "example").stdout
    assert "transform" in cli("tasks", "list", example_dag).stdout
    run_id = f"cli_{uuid.uuid4().hex[:8]}"
    triggered = cli(
        "dags", "trigger", example_dag, "--conf", '{"batch_size": 5000}', "--run-id", run_id, "-o", "json"
    )
    assert triggered.returncode == 0, triggered.stderr
    assert json.loads(triggered.stdout)["conf"] == {"batch_size": 5000}
    shown = cli("tasks", "get", example_dag, "extract", "--run-id", run_id, "-o", "json")
    assert json.loads(shown.stdout)["dag_run_id"] == run_id
    assert cli("dags", "pause", example_dag).returncode == 0
