"""``airflow-cli datakits`` as a user runs it, against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests import harness
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e
CLI = str(harness.VENV_BIN / "airflow-cli")


def run(actors: Actors, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        COLUMNS="200",
        AIRFLOW_PLATFORM_URL=actors.base_url,
        AIRFLOW_PLATFORM_API_KEY=actors.alice_key,
    )
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_datakits_cli(actors: Actors, tmp_path: Path) -> None:
    name = f"cli-kit-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "datakit.yaml"
    path.write_text(
        f"name: {name}\nversion: 1.0.0\nimage: registry.localhost/datakits/{name}:1.0.0\n"
        "type: transformation\ntags: [cli-e2e]\n"
        "inputs:\n  - {name: customers, type: table, schema: bronze}\n"
        "outputs:\n  - {name: dim_customer, type: table, schema: gold}\n"
        "configuration:\n  batch_size: {type: integer, default: 1000}\n"
    )
    first = run(actors, tmp_path, "datakits", "register", "--file", str(path))
    assert first.returncode == 0, first.stderr
    assert f"Registered {name} 1.0.0" in first.stderr
    second = run(
        actors, tmp_path, "datakits", "register", "--file", str(path), "--version", "1.1.0",
        "--image", f"registry.localhost/datakits/{name}:1.1.0",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr

    listed = json.loads(run(actors, tmp_path, "datakits", "list", "--search", name, "-o", "json").stdout)
    assert [(k["name"], k["latest_version"]) for k in listed["datakits"]] == [(name, "1.1.0")]
    assert (
        name
        in run(actors, tmp_path, "datakits", "list", "--type", "transformation", "--tag", "cli-e2e").stdout
    )
    shown = run(actors, tmp_path, "datakits", "get", name)
    assert shown.returncode == 0 and "1.0.0" in shown.stdout and "1.1.0" in shown.stdout

    deployed = run(
        actors, tmp_path, "datakits", "deploy", name, "--environment", "dev", "--schedule", "0 2 * * *",
        "--config", "batch_size=5000", "--paused", "-o", "json",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    deployment = json.loads(deployed.stdout)
    assert deployment["configuration"]["batch_size"] == 5000 and deployment["version"] == "1.1.0"

    status = run(actors, tmp_path, "datakits", "status", name)
    assert status.returncode == 0, status.stderr
    assert "dev" in status.stdout and "1.1.0" in status.stdout
    one = json.loads(run(actors, tmp_path, "datakits", "status", name, "-e", "dev", "-o", "json").stdout)
    assert one["id"] == deployment["id"] and one["status"] in {"pending", "active", "paused"}

    refused = run(actors, tmp_path, "datakits", "delete-version", name, "1.1.0", "--yes")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: CONFLICT"), refused.stderr

    rolled = run(actors, tmp_path, "datakits", "rollback", name, "--version", "1.0.0", "--environment", "dev")
    assert rolled.returncode == 0, rolled.stderr
    assert "Rolled" in rolled.stderr and "1.0.0" in rolled.stdout

    gone = run(actors, tmp_path, "datakits", "undeploy", name, "--environment", "dev", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert run(actors, tmp_path, "datakits", "delete-version", name, "1.1.0", "--yes").returncode == 0
    missing = run(actors, tmp_path, "datakits", "get", f"{name}-nope")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: RESOURCE_NOT_FOUND")
