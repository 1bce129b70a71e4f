"""``airflow-platform db migrate|check|downgrade`` against a fresh metadata DB."""

from __future__ import annotations

import os
import subprocess

import sqlalchemy as sa

from tests import harness


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(harness.VENV_BIN / "airflow-platform"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_migrate_check_downgrade(tmp_path) -> None:
    db = tmp_path / "admin.db"
    env = harness.airflow_env(tmp_path / "home", sql_alchemy_conn=f"sqlite:///{db}")

    behind = _run(env, "db", "check")
    assert behind.returncode == 1
    assert "airflow-platform db migrate" in behind.stderr

    first = _run(env, "db", "migrate")
    assert first.returncode == 0, first.stderr
    assert "migrated: empty ->" in first.stdout
    assert "platform_tenants" in sa.inspect(sa.create_engine(f"sqlite:///{db}")).get_table_names()

    again = _run(env, "db", "migrate")
    assert "already at revision" in again.stdout
    assert _run(env, "db", "check").returncode == 0

    down = _run(env, "db", "downgrade", "--to-revision", "base", "--yes")
    assert down.returncode == 0, down.stderr
    assert "platform_tenants" not in sa.inspect(sa.create_engine(f"sqlite:///{db}")).get_table_names()


def test_unreachable_db_is_one_clear_line(tmp_path) -> None:
    env = harness.airflow_env(
        tmp_path / "home", sql_alchemy_conn="postgresql+psycopg2://u:secretpw@127.0.0.1:1/none"
    )
    result = _run(env, "db", "migrate")
    assert result.returncode == 1
    assert "cannot reach the metadata database" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secretpw" not in result.stderr


def test_help() -> None:
    result = _run({}, "--help")
    assert result.returncode == 0 and "db" in result.stdout
