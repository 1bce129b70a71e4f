"""What DataKitOperator costs on top of ``docker run --rm``: the same trivial image, both ways.

Builds a busybox image locally (``docker import``, as the tests do) whose entrypoint prints one
line, then times ``DataKitOperator.execute()`` (a minimal context, no inputs or outputs: planning,
a work folder, creating, starting, following the logs of, waiting for and removing the container
through the engine API) against a ``docker run --rm`` subprocess of the same image, alternating the
two so that drift hits both alike, and prints the ratio of the medians. Goal: ≤ 1.3. Also shown:
the ratio to ``docker run --rm --network none --init``. The operator asks for ``--init`` and for no
network; on an engine without a bridge network (``dockerd --bridge=none``, as here) it leaves the
network mode at the default, which there is already loopback-only, because ``none`` costs such an
engine ≈85 ms a run of its own.

    make bench NAME=datakit_overhead          # BENCH_RUNS=15 by default
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
IMAGE = "platform-test/datakit-hello:1"
ENTRYPOINT = '#!/bin/sh\necho "hello from a DataKit"\n'


def main() -> None:
    from tests.datakits.docker_images import build_busybox_image, docker_client

    client = docker_client()
    if client is None or shutil.which("docker") is None:
        print("no Docker engine (or docker client) here: run scripts/services.sh start")
        print("datakit_overhead_ratio: skipped")
        return
    build_busybox_image(client, IMAGE, ENTRYPOINT)
    logging.disable(logging.WARNING)  # the operator's per-run lines are not what is measured

    from airflow_platform.operators import DataKitOperator

    work = Path(tempfile.mkdtemp(prefix="bench-datakit-"))
    os.environ["AIRFLOW__PLATFORM__DATAKIT_WORK_DIR"] = str(work)
    warehouse = str(work / "warehouse.duckdb")

    def operator_run(i: int) -> float:
        op = DataKitOperator(task_id="hello", image=IMAGE, warehouse_path=warehouse)
        start = time.perf_counter()
        result = op.execute({"run_id": f"bench_{i}"})
        elapsed = time.perf_counter() - start
        assert result["exit_code"] == 0
        return elapsed

    def docker_run(*options: str) -> float:
        start = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", *options, IMAGE], check=True, capture_output=True)
        return time.perf_counter() - start

    isolated = ("--network", "none", "--init")  # explicit isolation, for comparison
    operator_run(-1)  # warm every path (imports, the client's connection, the image in the page cache)
    docker_run()
    docker_run(*isolated)
    op_times, cli_times, isolated_times = [], [], []
    for i in range(RUNS):
        cli_times.append(docker_run())
        op_times.append(operator_run(i))
        isolated_times.append(docker_run(*isolated))
    shutil.rmtree(work, ignore_errors=True)
    op_s, cli_s = statistics.median(op_times), statistics.median(cli_times)
    iso_s = statistics.median(isolated_times)
    print(f"docker run --rm:                          {cli_s * 1e3:.0f} ms (median of {RUNS})")
    print(f"docker run --rm --network none --init:    {iso_s * 1e3:.0f} ms (explicit isolation)")
    print(f"DataKitOperator.execute():                {op_s * 1e3:.0f} ms")
    print(f"ratio to explicit isolation: {op_s / iso_s:.3f}")
    print(f"datakit_overhead_ratio: {op_s / cli_s:.3f}")


if __name__ == "__main__":
    main()
