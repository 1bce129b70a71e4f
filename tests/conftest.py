"""Suite-wide fixtures: one isolated, migrated AIRFLOW_HOME per run, the Flask test client, the
real Airflow server on a loopback port, and PostgreSQL-backed variants where the server exists.

The environment is set here, at import, because Airflow reads its configuration when it is first
imported, and this module is imported before any test module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import harness

#: Every log line the test process emits, for the final no-secrets-in-logs check.
CAPTURED_LOG_LINES: list[str] = []


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a record that cannot be formatted cannot leak either
            CAPTURED_LOG_LINES.append(self.format(record))


logging.getLogger().addHandler(_Collector(level=logging.DEBUG))

ARTIFACTS = Path(os.environ.get("PLATFORM_TEST_ARTIFACTS", harness.REPO / "test-artifacts"))
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="platform-test-home-"))
SESSION_ENV = harness.airflow_env(_SESSION_HOME)
os.environ.update(SESSION_ENV)
# The test process itself runs no background webhook dispatcher (tests drive one when they need it);
# the servers it starts get SESSION_ENV, where it is on.
os.environ["AIRFLOW__PLATFORM__WEBHOOK_DISPATCHER"] = "False"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    from importlib.metadata import version

    path = ARTIFACTS / f"airflow-{version('apache-airflow')}"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.log"):  # this run's logs only, for the final secrets check
        old.unlink()
    return path


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's AIRFLOW_HOME, migrated (Airflow + platform tables) with an admin user."""
    harness.prepare_airflow_home(SESSION_ENV)
    return _SESSION_HOME


@pytest.fixture(scope="session")
def platform_app(airflow_home: Path):  # type: ignore[no-untyped-def]
    from airflow_platform.api.app import create_app

    app = create_app()
    app.config["TESTING"] = False  # let error handlers run as in production
    return app


@pytest.fixture
def client(platform_app):  # type: ignore[no-untyped-def]
    return platform_app.test_client()


@pytest.fixture(scope="session")
def airflow_server(airflow_home: Path, artifacts_dir: Path) -> Iterator[harness.AirflowServer]:
    """The real Airflow server (3.x api-server, 2.11 webserver) with the plugin, on loopback."""
    port = harness.free_port()
    env = {
        **SESSION_ENV,
        **harness.airflow_env(airflow_home, port=port),
        # Reference defaults for GET; more room for the suite's many writes (limits: test_rate_limits).
        "AIRFLOW__PLATFORM__RATE_LIMIT_WRITE": "10000/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_DELETE": "10000/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_BULK": "10000/minute",
    }
    with harness.running_server(env, port, artifacts_dir) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = harness.postgres_url()
    if url is None:
        harness.missing_service("PostgreSQL", "set PLATFORM_TEST_PG_URL or run scripts/services.sh start")
    assert url is not None
    return url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    with harness.fresh_postgres_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def postgres_airflow_server(
    postgres_url: str, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[harness.AirflowServer]:
    """A real Airflow server whose metadata DB is a fresh PostgreSQL database."""
    with harness.fresh_postgres_database(postgres_url) as db_url:
        home = tmp_path_factory.mktemp("pg-home")
        port = harness.free_port()
        env = harness.airflow_env(
            home, sql_alchemy_conn=db_url.replace("postgresql://", "postgresql+psycopg2://"), port=port
        )
        harness.prepare_airflow_home(env)
        with harness.running_server(env, port, artifacts_dir) as server:
            yield server


@pytest.fixture(scope="session")
def actors(airflow_server: harness.AirflowServer):  # type: ignore[no-untyped-def]
    """Users alice (Op, team-a), bob (Op, team-b), viewer, and their keys, on the real server."""
    from tests.actors import make_actors

    return make_actors(airflow_server)
