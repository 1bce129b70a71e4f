"""Rate limits over HTTP: per key, per class, 429 in the envelope, shared through Redis."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e
TENANTS = "/api/v1/platform/tenants"


@pytest.fixture(scope="module")
def limited_server(actors: Actors, airflow_home, artifacts_dir) -> Iterator[harness.AirflowServer]:  # type: ignore[no-untyped-def]
    """A second server on the same metadata DB, with small limits."""
    port = harness.free_port()
    env = {
        **harness.airflow_env(airflow_home, port=port),
        "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "5/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_WRITE": "2/minute",
    }
    with harness.running_server(env, port, artifacts_dir) as server:
        yield server


def fresh_key(*args: str) -> str:
    key = harness.create_key(SESSION_ENV, harness.ADMIN_USER, *args)
    MADE_SECRETS.append(key)
    return key


def test_get_budget_then_429(limited_server: harness.AirflowServer) -> None:
    key = fresh_key()
    with httpx.Client(base_url=limited_server.base_url, headers={"X-API-Key": key}) as c:
        remaining = [int(c.get(TENANTS).headers["X-RateLimit-Remaining"]) for _ in range(5)]
        assert remaining == [4, 3, 2, 1, 0]
        refused = c.get(TENANTS)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert "5 per 1 minute" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "5"
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_budgets_are_per_key_and_per_class(limited_server: harness.AirflowServer) -> None:
    first, second = fresh_key(), fresh_key()
    with httpx.Client(base_url=limited_server.base_url) as c:
        for _ in range(5):
            assert c.get(TENANTS, headers={"X-API-Key": first}).status_code == 200
        assert c.get(TENANTS, headers={"X-API-Key": first}).status_code == 429
        assert c.get(TENANTS, headers={"X-API-Key": second}).status_code == 200
        # Writes have their own budget (2/minute here), even for the key out of GETs.
        body = {"name": "rl"}
        made = [
            c.post("/api/v1/platform/api-keys", json=body, headers={"X-API-Key": first}) for _ in range(3)
        ]
    assert [r.status_code for r in made] == [201, 201, 429]
    MADE_SECRETS.extend(r.json()["key"] for r in made if r.status_code == 201)


def test_airflows_own_api_counts_against_the_key(limited_server: harness.AirflowServer) -> None:
    key = fresh_key()
    path = "/api/v2/dags" if harness.airflow_major() >= 3 else "/api/v1/dags"
    with httpx.Client(base_url=limited_server.base_url, headers={"X-API-Key": key}) as c:
        statuses = [c.get(path).status_code for _ in range(5)]
        assert statuses == [200] * 5
        refused = c.get(path)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "Retry-After" in refused.headers


def test_failed_logins_are_limited_by_address(limited_server: harness.AirflowServer) -> None:
    with httpx.Client(base_url=limited_server.base_url) as c:
        statuses = [c.get(TENANTS, headers={"X-API-Key": f"afp_bad{i}"}).status_code for i in range(7)]
    # The address's GET budget (5 here; the readiness probe already spent some) runs out.
    assert statuses[0] == 401
    assert statuses[-2:] == [429, 429]
    assert set(statuses) == {401, 429}


@pytest.mark.redis
def test_two_servers_share_one_budget_through_redis(
    actors: Actors,
    airflow_home,
    artifacts_dir,  # type: ignore[no-untyped-def]
) -> None:
    url = harness.redis_url()
    if url is None:
        harness.missing_service("Redis", "set PLATFORM_TEST_REDIS_URL or run scripts/services.sh start")
    key = fresh_key()
    ports = [harness.free_port(), harness.free_port()]
    envs = [
        {
            **harness.airflow_env(airflow_home, port=p),
            "AIRFLOW__PLATFORM__RATE_LIMIT_STORAGE_URI": str(url),
            "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "6/minute",
        }
        for p in ports
    ]
    with (
        harness.running_server(envs[0], ports[0], artifacts_dir) as one,
        harness.running_server(envs[1], ports[1], artifacts_dir) as two,
    ):
        statuses = []
        for server in itertools.islice(itertools.cycle([one, two]), 10):
            r = httpx.get(f"{server.base_url}{TENANTS}", headers={"X-API-Key": key})
            statuses.append(r.status_code)
    assert statuses.count(200) == 6, statuses
    assert statuses[6:] == [429] * 4
