"""Fixtures of the CLI tests: an empty config directory per test, mocked or real servers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from airflow_platform.cli.main import app
from tests.actors import Actors
from tests.sdk.conftest import airflow2, airflow3, api, sleeps, warehouse
from tests.sdk.fakes import BASE

__all__ = ["Actors", "airflow2", "airflow3", "api", "sleeps", "warehouse"]

Invoke = Callable[..., Result]


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``typer.get_app_dir`` follows XDG_CONFIG_HOME: every test starts without a config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("URL", "API_KEY", "TENANT", "CLIENT_ID", "CLIENT_SECRET", "TIMEOUT"):
        monkeypatch.delenv(f"AIRFLOW_PLATFORM_{name}", raising=False)
    return tmp_path / "xdg" / "airflow-platform"


@pytest.fixture
def invoke(config_home: Path) -> Invoke:
    """Run ``airflow-cli`` in-process; ``env`` adds variables for this call only."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def configured(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_URL", BASE)
    monkeypatch.setenv("AIRFLOW_PLATFORM_API_KEY", "afp_test_key")
