"""What key auth and rate limiting cost: health requests/s with an API key ÷ without.

Starts a real Airflow server (the default version's api-server/webserver) on a fresh SQLite
home, makes a key, then alternates timed blocks of sequential keep-alive GETs of
``/api/v1/platform/health`` with and without ``X-API-Key`` (same server, same run), and prints
the ratio of the median requests/s. With the key, each request resolves the key (hash look-up),
asks Airflow's auth manager about the user, and counts against the key's rate limit.

    make bench NAME=auth_overhead
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import harness

BLOCK_S = float(os.environ.get("BENCH_BLOCK_S", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PATH = "/api/v1/platform/health"


def requests_per_s(client: httpx.Client, headers: dict[str, str]) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < BLOCK_S:
        response = client.get(PATH, headers=headers)
        assert response.status_code == 200, response.text
        n += 1
    return n / elapsed


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    port = harness.free_port()
    env = {**harness.airflow_env(home, port=port), "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "100000000/minute"}
    os.environ.update(env)
    harness.prepare_airflow_home(env)
    key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench")
    with harness.running_server(env, port, home) as server, httpx.Client(base_url=server.base_url) as client:
        for _ in range(50):  # warm both paths (imports, caches, connection)
            client.get(PATH)
            client.get(PATH, headers={"X-API-Key": key})
        with_key, without = [], []
        for _ in range(ROUNDS):
            without.append(requests_per_s(client, {}))
            with_key.append(requests_per_s(client, {"X-API-Key": key}))
    plain, keyed = statistics.median(without), statistics.median(with_key)
    print(f"health without key: {plain:.0f} req/s (median of {ROUNDS} blocks of {BLOCK_S:.0f} s)")
    print(f"health with key auth + rate limit: {keyed:.0f} req/s")
    print(f"auth_overhead_ratio: {keyed / plain:.3f}")


if __name__ == "__main__":
    main()
