"""Fault tests: each breaks a private service (PostgreSQL, Redis, Docker engine, a small disk) under
the platform and checks that the failure is clear and bounded, and that the platform recovers.

One real server serves the PostgreSQL and Redis faults: its metadata DB is a private PostgreSQL
and its rate-limit storage a private Redis, both stopped and started by the tests (never the
shared services other tests use).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import harness
from tests.actors import MADE_SECRETS
from tests.faults.services import PrivatePostgres, PrivateRedis, private_postgres, private_redis

#: Cool-down between probes of a failed rate-limit store: short, so recovery shows within a test.
FALLBACK_SECONDS = 1


@dataclass
class FaultServer:
    server: harness.AirflowServer
    postgres: PrivatePostgres
    redis: PrivateRedis
    key: str


#: `airflow db migrate`, the platform's migrate (with FAB permissions), the admin user and an API key
#: in ONE interpreter: `harness.prepare_airflow_home` + `create_key` start four, each importing Airflow
#: again, which costs over a minute on a busy machine.
_PREPARE = """
import json, sys
sys.argv = ["airflow", "db", "migrate"]
from airflow.__main__ import main
main()
from airflow_platform.admin.main import app
app(["db", "migrate"], standalone_mode=False)
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    if sm.find_user(username=USER) is None:
        assert sm.add_user(USER, USER, "Test", USER + "@example.com", sm.find_role("Admin"), PASSWORD)
from airflow_platform.auth import scopes
from airflow_platform.services.api_keys import ApiKeyService
from airflow_platform.services.tenants import TenantService
created = ApiKeyService(TenantService()).insert(
    name="faults", username=USER, tenant_id=None, scopes=scopes.normalize(["*"]),
    expires_in_days=None, created_by="cli:" + USER,
)
print(json.dumps(created.key))
"""


def _prepare(env: dict[str, str]) -> str:
    """A migrated installation with the admin user; answers an admin API key."""
    code = f"USER = {harness.ADMIN_USER!r}\nPASSWORD = {harness.ADMIN_PASSWORD!r}\n{_PREPARE}"
    return str(harness.python_json(env, code, timeout=300))


@pytest.fixture(scope="package")
def fault_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


@pytest.fixture(scope="package")
def fault_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path_factory.mktemp("fault-redis")) as server:
        yield server


@pytest.fixture(scope="package")
def fault_server(
    fault_postgres: PrivatePostgres,
    fault_redis: PrivateRedis,
    artifacts_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FaultServer]:
    home = tmp_path_factory.mktemp("fault-home")
    port = harness.free_port()
    env = {
        **harness.airflow_env(
            home,
            sql_alchemy_conn=fault_postgres.url.replace("postgresql://", "postgresql+psycopg2://"),
            port=port,
        ),
        "AIRFLOW__PLATFORM__RATE_LIMIT_STORAGE_URI": fault_redis.url,
        "AIRFLOW__PLATFORM__RATE_LIMIT_FALLBACK_SECONDS": str(FALLBACK_SECONDS),
    }
    key = _prepare(env)
    MADE_SECRETS.append(key)
    with harness.running_server(env, port, artifacts_dir) as server:
        yield FaultServer(server, fault_postgres, fault_redis, key)
