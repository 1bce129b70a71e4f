"""The client side never imports Airflow, and ``import airflow_platform`` stays light.

Run in fresh interpreters: this test process has imported Airflow long ago (conftest), and the
venv *has* Airflow, so only ``sys.modules`` of a clean process can tell.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
{imports}
loaded = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
assert not loaded, loaded
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import airflow_platform.sdk",
        "import airflow_platform.cli.main; airflow_platform.cli.main.app",
        "from airflow_platform import PlatformClient, AsyncPlatformClient",
        "import airflow_platform.schemas.airflow",
    ],
)
def test_client_side_does_not_import_airflow(imports: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(imports=imports)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_top_level_package_is_light_and_clients_are_lazy() -> None:
    code = (
        "import sys, airflow_platform\n"
        "assert 'httpx' not in sys.modules and 'airflow_platform.sdk' not in sys.modules\n"
        "from airflow_platform import PlatformClient\n"
        "assert PlatformClient.__module__ == 'airflow_platform.sdk.client'\n"
        "assert 'PlatformClient' in dir(airflow_platform)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cli_help_runs_without_airflow() -> None:
    code = (
        "import sys\n"
        "from airflow_platform.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['dags', 'list', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert not [m for m in sys.modules if m.startswith('airflow.')]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_exception_the_reference_names_lives_in_one_module() -> None:
    from airflow_platform import exceptions, sdk
    from airflow_platform.sdk import errors

    names = [
        "RateLimitError",
        "AuthenticationError",
        "PermissionDeniedError",
        "ResourceNotFoundError",
        "ValidationError",
        "ConflictError",
        "ServerError",
        "ServiceUnavailableError",
        "APIConnectionError",
        "APITimeoutError",
        "UnsupportedFeatureError",
        "PlatformError",
    ]
    for name in names:
        cls = getattr(exceptions, name)
        assert issubclass(cls, exceptions.PlatformError), name
        assert getattr(sdk, name) is cls, f"airflow_platform.sdk.{name} is the same class"
    assert errors.APITimeoutError is exceptions.APITimeoutError, "the old import path still works"
    assert errors.UnsupportedFeatureError is exceptions.UnsupportedFeatureError
    assert issubclass(exceptions.APITimeoutError, exceptions.APIConnectionError)
