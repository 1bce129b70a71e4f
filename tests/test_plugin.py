"""Airflow finds the package twice, as a provider and as a plugin, and wires it per version."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from airflow_platform.config import OPTIONS
from airflow_platform.get_provider_info import get_provider_info
from tests import harness
from tests.conftest import SESSION_ENV


def test_entry_points_are_declared() -> None:
    providers = {ep.value for ep in entry_points(group="apache_airflow_provider")}
    plugins = {ep.value for ep in entry_points(group="airflow.plugins")}
    assert "airflow_platform.get_provider_info:get_provider_info" in providers
    assert "airflow_platform.plugin:PlatformPlugin" in plugins


def test_provider_info_passes_airflows_own_schema() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )
    jsonschema.validate(get_provider_info(), schema)


def test_plugin_is_loaded_by_airflow_and_wired_for_this_version(airflow_home) -> None:
    out = harness.run_airflow(SESSION_ENV, "plugins", "-o", "json")
    plugins = [p for p in json.loads(out.stdout) if p["name"] == "airflow_platform"]
    assert len(plugins) == 1, out.stdout
    assert "already registered" not in out.stdout + out.stderr
    from airflow_platform.plugin import PlatformPlugin

    if harness.airflow_major() >= 3:
        middleware = PlatformPlugin.fastapi_root_middlewares[0]["middleware"]
        assert middleware.__name__ == "PlatformRootMiddleware"
        assert not getattr(PlatformPlugin, "flask_blueprints", [])
    else:
        blueprints = list(PlatformPlugin.flask_blueprints)
        assert [bp.name for bp in blueprints] == ["platform"]


def test_airflow_config_list_shows_the_platform_section(airflow_home) -> None:
    out = harness.run_airflow(
        SESSION_ENV, "config", "list", "--section", "platform", "--include-descriptions"
    ).stdout
    assert "[platform]" in out
    for key, option in OPTIONS.items():
        assert key in out
        assert option["description"].split("\n")[0][:40] in out


def test_airflow_providers_list_includes_us(airflow_home) -> None:
    out = harness.run_airflow(SESSION_ENV, "providers", "list", "-o", "json").stdout
    assert "airflow-platform" in out


def test_importing_the_plugin_builds_nothing() -> None:
    """No Flask app, blueprint or DB work at import: those happen on the first request."""
    import subprocess
    import sys

    code = (
        "import sys, airflow_platform.plugin; "
        "heavy = ('airflow_platform.api.blueprint', 'airflow_platform.api.app', 'a2wsgi', 'duckdb', "
        "'alembic'); "
        "bad = [m for m in heavy if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(harness.airflow_major() < 3, reason="the DB manager route exists on Airflow 3 only")
def test_db_manager_is_discovered_by_airflow() -> None:
    from airflow.utils.db_manager import RunDBManager

    managers = [m.__name__ for m in RunDBManager()._managers]
    assert "PlatformDBManager" in managers
    RunDBManager().validate()
