"""``airflow-cli connections`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests import harness
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e
CLI = str(harness.VENV_BIN / "airflow-cli")


def run(
    actors: Actors, tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        COLUMNS="200",
        AIRFLOW_PLATFORM_URL=actors.base_url,
        AIRFLOW_PLATFORM_API_KEY=actors.alice_key,
    )
    return subprocess.run(
        [CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_connections_cli(actors: Actors, tmp_path: Path) -> None:
    conn_id = f"cli_conn_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    MADE_SECRETS.append(password)
    created = run(
        actors, tmp_path,
        "connections", "create", conn_id, "--type", "http", "--host", "127.0.0.1", "--port", "9",
        "--login", "svc", "--password-stdin", "--extra", '{"timeout": 2}',
        stdin=password + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert password not in created.stdout + created.stderr
    assert "***" in created.stdout

    listed = run(actors, tmp_path, "connections", "list", "--search", conn_id, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert [c["connection_id"] for c in body["connections"]] == [conn_id]
    assert body["connections"][0]["password"] == "***"

    got = run(actors, tmp_path, "connections", "get", conn_id)
    assert got.returncode == 0 and conn_id in got.stdout and password not in got.stdout

    export_file = tmp_path / "connections.yaml"
    exported = run(actors, tmp_path, "connections", "export", "--output", str(export_file))
    assert exported.returncode == 0, exported.stderr
    assert conn_id in export_file.read_text() and password not in export_file.read_text()

    deleted = run(actors, tmp_path, "connections", "delete", conn_id, "--yes")
    assert deleted.returncode == 0, deleted.stderr

    dry = run(
        actors, tmp_path, "connections", "import", "--file", str(export_file), "--dry-run", "-o", "json"
    )
    assert dry.returncode == 0, dry.stderr
    result = json.loads(dry.stdout)
    assert result["dry_run"] is True and conn_id in result["created"]
    assert run(actors, tmp_path, "connections", "get", conn_id).returncode == 1
