"""The metadata DB (PostgreSQL) restarts while requests flow through a real server.

During the outage every platform request must answer quickly with 503 SERVICE_UNAVAILABLE in the
error envelope (never a 500, never a hang), and once PostgreSQL is back the same server process
answers 200 again: no restart of Airflow. The PostgreSQL is the fault tests' private one.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.faults.conftest import FaultServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

TENANTS = "/api/v1/platform/tenants"
HEALTH = "/api/v1/platform/health"
#: A request that takes longer than this during the outage counts as a hang.
BOUNDED_S = 20.0


def _assert_unavailable(response: httpx.Response, request_id: str | None = None) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert "metadata database" in error["message"].lower()
    assert error["request_id"] == response.headers["X-Request-ID"]
    if request_id is not None:
        assert response.headers["X-Request-ID"] == request_id
    # Nothing about the connection (host, port, user, driver trace) reaches the caller.
    text = response.text
    assert "psycopg2" not in text and "127.0.0.1" not in text and "Traceback" not in text


class Flow:
    """Requests sent back to back from another thread, recording every answer."""

    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=BOUNDED_S)
        self.answers: list[tuple[int, float, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = self.client.get(TENANTS)
            except httpx.HTTPError as e:  # a timeout here is a hang
                self.failures.append(f"{type(e).__name__}: {e}")
                continue
            self.answers.append((response.status_code, time.monotonic() - started, response.text[:300]))
            time.sleep(0.05)

    def __enter__(self) -> Flow:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=BOUNDED_S + 10)
        self.client.close()


def test_postgres_restart_answers_503_then_recovers(fault_server: FaultServer) -> None:
    server, pg = fault_server.server, fault_server.postgres
    with httpx.Client(
        base_url=server.base_url, headers={"X-API-Key": fault_server.key}, timeout=BOUNDED_S
    ) as c:
        assert c.get(TENANTS).status_code == 200
        with Flow(server.base_url, fault_server.key) as flow:
            server.wait_for("requests flowing", lambda: len(flow.answers) >= 3, timeout=60, interval=0.1)
            pg.stop(mode="fast")
            assert not pg.answers()

            # Down: 503 in the envelope, with the caller's request id, for data and health alike.
            for i in range(3):
                rid = f"fault-pg-{i}"
                started = time.monotonic()
                response = c.get(TENANTS, headers={"X-Request-ID": rid})
                assert time.monotonic() - started < BOUNDED_S
                _assert_unavailable(response, rid)
            post = c.post(TENANTS, json={"tenant_id": "during-outage", "display_name": "During outage"})
            _assert_unavailable(post)
            # Health as a load balancer asks (no key): 503 with the health document in the details.
            health = httpx.get(f"{server.base_url}{HEALTH}", timeout=BOUNDED_S)
            _assert_unavailable(health)
            assert health.json()["error"]["details"]["metadata_db"]["status"] == "unhealthy"

            pg.start()  # same data, same port; the server process is not touched

            def recovered() -> bool:
                return c.get(TENANTS).status_code == 200

            server.wait_for("platform requests answering 200 after PostgreSQL restarted", recovered, 60, 0.2)
            server.wait_for("the flow to see the recovery", lambda: flow.answers[-1][0] == 200, 60, 0.1)

        assert flow.failures == [], flow.failures[:3]
        statuses = [status for status, _, _ in flow.answers]
        assert set(statuses) <= {200, 503}, [a for a in flow.answers if a[0] not in (200, 503)][:3]
        assert 503 in statuses
        assert statuses[-1] == 200
        for status, _, body in flow.answers:
            if status == 503:
                assert '"SERVICE_UNAVAILABLE"' in body
        slowest = max(elapsed for _, elapsed, _ in flow.answers)
        print(
            f"metadata DB restart: {len(statuses)} requests, {statuses.count(503)} 503s, "
            f"slowest {slowest:.2f}s"
        )

        # Fully back: reads, writes and health.
        for _ in range(5):
            assert c.get(TENANTS).status_code == 200
        assert c.get(HEALTH).json()["metadata_db"]["status"] == "healthy"
