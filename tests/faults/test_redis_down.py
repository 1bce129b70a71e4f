"""Redis (the shared rate-limit storage) dies under a real server, then comes back.

The platform must keep serving with per-process counters, say so in the health endpoint, and go
back to the shared budget once Redis answers again. A private redis-server is killed, not the
shared one on 6379.
"""

from __future__ import annotations

import httpx
import pytest

from tests.faults.conftest import FALLBACK_SECONDS, FaultServer
from tests.faults.services import PrivateRedis

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

TENANTS = "/api/v1/platform/tenants"
HEALTH = "/api/v1/platform/health"


def _redis_keys(redis_server: PrivateRedis) -> int:
    import redis

    return int(redis.Redis.from_url(redis_server.url, socket_connect_timeout=1).dbsize())


def _health(c: httpx.Client) -> dict:  # type: ignore[type-arg]
    response = c.get(HEALTH)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_redis_down_falls_back_per_process_and_recovers(fault_server: FaultServer) -> None:
    server, redis_server, key = fault_server.server, fault_server.redis, fault_server.key
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30) as c:
        # Shared: the budget is counted in Redis.
        first = c.get(TENANTS)
        assert first.status_code == 200, first.text
        assert _redis_keys(redis_server) > 0
        health = _health(c)
        assert health["rate_limit"] == {"status": "healthy", "storage": "redis", "detail": None}
        assert health["status"] == "healthy"

        redis_server.kill()
        # Still serving, still limited (per process): every answer is a 200 with the headers.
        answers = [c.get(TENANTS) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5, answers[-1].text
        remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
        assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]
        health = _health(c)
        assert health["rate_limit"]["status"] == "degraded"
        assert health["rate_limit"]["storage"] == "redis"
        assert "Redis unreachable" in health["rate_limit"]["detail"]
        assert health["status"] == "degraded"
        assert redis_server.url.split("@")[-1] not in str(health)  # no connection details leak

        # Back: a request after the cool-down probes Redis and budgets are shared again.
        redis_server.start()
        assert _redis_keys(redis_server) == 0

        def shared_again() -> bool:
            assert c.get(TENANTS).status_code == 200
            return bool(_health(c)["rate_limit"]["status"] == "healthy")

        server.wait_for("rate limits back on Redis", shared_again, timeout=60, interval=FALLBACK_SECONDS / 2)
        assert _redis_keys(redis_server) > 0
        assert _health(c)["status"] == "healthy"
    log = server.log_text()
    assert "Rate-limit storage" in log and "counting requests per process" in log
    assert "reachable again" in log
