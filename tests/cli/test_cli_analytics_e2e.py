"""``airflow-cli analytics`` as a user runs it, against the real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import harness
from tests.e2e.conftest import Actors

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("warehouse")]
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


def test_analytics_cli(actors: Actors, tmp_path: Path) -> None:
    sql = "SELECT 1 AS x, :label AS label UNION ALL SELECT 2, 'b' ORDER BY x"
    shown = run(actors, tmp_path, "analytics", "query", sql, "--param", "label=a")
    assert shown.returncode == 0, shown.stderr
    assert "label" in shown.stdout and "2 rows" in shown.stderr

    document = json.loads(
        run(actors, tmp_path, "analytics", "query", sql, "-p", "label=a", "-f", "json").stdout
    )
    assert [r["x"] for r in document["data"]] == [1, 2]
    target = tmp_path / "rows.csv"
    written = run(
        actors, tmp_path, "analytics", "query", sql, "-p", "label=a", "-f", "csv", "-o", str(target)
    )
    assert written.returncode == 0, written.stderr
    assert len(target.read_text().splitlines()) == 3

    status = run(actors, tmp_path, "analytics", "status", document["query_id"], "-o", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"
    history = run(actors, tmp_path, "analytics", "history", "-o", "json")
    assert document["query_id"] in [q["query_id"] for q in json.loads(history.stdout)["queries"]]

    refused = run(actors, tmp_path, "analytics", "query", "DELETE FROM gold.dim_customer")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: VALIDATION_ERROR"), refused.stderr
