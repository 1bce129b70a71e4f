"""What the SDK costs on top of raw httpx: ``PlatformClient.health()`` vs a plain ``httpx.Client`` GET.

Starts a real Airflow server (the default version's api-server/webserver) on a fresh SQLite home,
makes a key, then times 1,000 ``GET /api/v1/platform/health`` through ``PlatformClient`` and 1,000
through a raw ``httpx.Client`` with the same key (keep-alive both; the raw side also decodes the JSON),
in alternating blocks so that drift in the server hits both sides alike, and prints the ratio of
the median per-request times. The SDK adds: building the request, a request id, the retry loop,
error mapping, and validating the answer into ``HealthResponse``.

    make bench NAME=sdk_overhead
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

from airflow_platform.sdk import PlatformClient

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
BLOCKS = int(os.environ.get("BENCH_BLOCKS", "10"))
PATH = "/api/v1/platform/health"


def sdk_block(client: PlatformClient, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.health()
    return (time.perf_counter() - start) / n


def raw_block(client: httpx.Client, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(PATH)
        response.raise_for_status()
        response.json()
    return (time.perf_counter() - start) / n


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    port = harness.free_port()
    env = {**harness.airflow_env(home, port=port), "AIRFLOW__PLATFORM__RATE_LIMIT_GET": "100000000/minute"}
    os.environ.update(env)
    harness.prepare_airflow_home(env)
    key = harness.create_key(env, harness.ADMIN_USER, "--name", "bench")
    per_block = max(1, REQUESTS // BLOCKS)
    with (
        harness.running_server(env, port, home) as server,
        PlatformClient(server.base_url, api_key=key) as sdk,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30) as raw,
    ):
        sdk_block(sdk, 50)  # warm both paths (imports, caches, connections)
        raw_block(raw, 50)
        sdk_times, raw_times = [], []
        for _ in range(BLOCKS):
            raw_times.append(raw_block(raw, per_block))
            sdk_times.append(sdk_block(sdk, per_block))
    raw_s, sdk_s = statistics.median(raw_times), statistics.median(sdk_times)
    total = per_block * BLOCKS
    print(f"raw httpx:      {raw_s * 1e3:.3f} ms/request (median of {BLOCKS} blocks, {total} requests)")
    print(f"PlatformClient: {sdk_s * 1e3:.3f} ms/request (median of {BLOCKS} blocks, {total} requests)")
    print(f"sdk_overhead_ratio: {sdk_s / raw_s:.3f}")


if __name__ == "__main__":
    main()
