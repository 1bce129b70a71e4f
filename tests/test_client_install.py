"""The client side installs and imports without Airflow (a laptop)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import harness
from tests.actors import Actors
from tests.sdk.example_dag import example_dag

__all__ = ["example_dag"]


@pytest.fixture(scope="session")
def client_venv(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    uv = shutil.which("uv") or str(harness.REPO / ".venv/tools/bin/uv")
    work = tmp_path_factory.mktemp("client")
    # Build from a copy: setuptools writes metadata into the source tree while it builds.
    source = work / "src-copy"
    shutil.copytree(
        harness.REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".airflow", ".git", "test-artifacts", "*.egg-info", "__pycache__"
        ),
    )
    subprocess.run(
        [uv, "build", "-q", "--wheel", "--out-dir", str(work / "dist"), str(source)], check=True, timeout=600
    )
    wheel = next((work / "dist").glob("airflow_platform-*.whl"))
    venv = work / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin/python"), str(wheel)],
        check=True,
        timeout=600,
    )
    return venv


def test_import_without_airflow(client_venv) -> None:
    python = str(client_venv / "bin/python")
    no_airflow = subprocess.run([python, "-c", "import airflow"], capture_output=True, check=False)
    assert no_airflow.returncode != 0, "Airflow must not be pulled in by the client install"
    code = (
        "import airflow_platform, airflow_platform.exceptions, airflow_platform.schemas.common; "
        "print(airflow_platform.__version__)"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    from airflow_platform import __version__

    assert result.stdout.strip() == __version__


def test_cli_help_without_airflow(client_venv) -> None:
    result = subprocess.run(
        [str(client_venv / "bin/airflow-cli"), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "airflow-cli" in result.stdout


@pytest.mark.e2e
def test_cli_dags_list_against_the_server_without_airflow(
    client_venv, actors: Actors, example_dag: str, tmp_path: Path
) -> None:
    """The laptop case end to end: the wheel's ``airflow-cli`` (no Airflow beside it) lists DAGs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_PLATFORM_", "AIRFLOW__"))}
    env.pop("AIRFLOW_HOME", None)
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        COLUMNS="200",
        AIRFLOW_PLATFORM_URL=actors.base_url,
        AIRFLOW_PLATFORM_API_KEY=actors.admin_key,
    )
    cli = str(client_venv / "bin/airflow-cli")
    listed = subprocess.run(
        [cli, "dags", "list", "-o", "json"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert example_dag in [d["dag_id"] for d in body["dags"]]
    assert body["total_entries"] >= 1
    table = subprocess.run(
        [cli, "dags", "list", "--tags", "example"], env=env, capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 0 and example_dag in table.stdout, table.stderr
