"""The Docker engine restarts (gracefully, or after a crash) while a DataKit runs on it.

The task must fail cleanly: a clear error in the task log, within a bounded time, no container
left on the engine once it is back, no work folder left, the warehouse untouched. A retry (the
same operator run again, as Airflow's retry would) then succeeds. The engine is a private dockerd
(its own data root, exec root and managed containerd), never the shared one.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from airflow_platform import compat
from airflow_platform.operators import DataKitOperator
from tests.datakits.docker_images import TEST_ENTRYPOINT, TEST_IMAGE, build_busybox_image, containers_labelled
from tests.datakits.task_log import TaskLog, task_log
from tests.faults.services import PrivateDocker, private_docker

pytestmark = pytest.mark.docker

TaskFailed, _ = compat.task_exceptions()
#: The run must end this soon after the engine goes away (a hang fails the test, never a timing).
BOUNDED_S = 120

MANIFEST: dict[str, Any] = {
    "name": "copy-kit",
    "version": "1.0.0",
    "image": TEST_IMAGE,
    "type": "transformation",
    "inputs": [{"name": "orders", "type": "table", "schema": "bronze"}],
    "outputs": [{"name": "orders", "type": "table", "schema": "silver"}],
    "configuration": {},
    "requirements": {},
}


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateDocker]:
    with private_docker() as running:
        client = running.client()
        try:
            build_busybox_image(client, TEST_IMAGE, TEST_ENTRYPOINT)
        finally:
            client.close()
        yield running


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE SCHEMA bronze; CREATE SCHEMA silver")
        con.execute("CREATE TABLE bronze.orders AS SELECT range AS id FROM range(3)")
        con.execute("CREATE TABLE silver.orders AS SELECT 99 AS id")
    return path


@pytest.fixture
def work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_WORK_DIR", str(path))
    return path


def _rows(warehouse: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(warehouse, read_only=True) as con:
        return sorted(con.execute("SELECT * FROM silver.orders").fetchall())


def _operator(engine: PrivateDocker, warehouse: str, mode: str) -> DataKitOperator:
    return DataKitOperator(
        task_id="kit",
        manifest=MANIFEST,
        warehouse_path=warehouse,
        docker_url=engine.url,
        environment={"MODE": mode, "COPY": "orders:orders"},
    )


@pytest.mark.timeout(2 * BOUNDED_S)
@pytest.mark.parametrize(
    ("sig", "expected"),
    [
        # A stopping engine stops its containers first: the task sees the exit code 143, or, when the
        # engine's socket goes before the exit is reported, the lost engine. Both are clean failures.
        pytest.param(
            signal.SIGTERM,
            ("exited with code 143 (SIGTERM: stopped from outside", "Lost the Docker engine at unix://"),
            id="restart",
        ),
        pytest.param(signal.SIGKILL, ("Lost the Docker engine at unix://",), id="crash"),
    ],
)
def test_engine_restart_fails_the_run_cleanly_and_a_retry_succeeds(
    engine: PrivateDocker, warehouse: str, work_dir: Path, sig: signal.Signals, expected: tuple[str, ...]
) -> None:
    run_id = f"fault_{uuid.uuid4().hex[:8]}"
    stopped: list[float] = []

    def pull_the_plug(log: TaskLog) -> None:
        """Once the kit is running (its first line is in the task log), stop the engine."""
        deadline = time.monotonic() + BOUNDED_S
        while "sleeping" not in log.lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        if "sleeping" in log.lines():
            stopped.append(time.monotonic())
            engine.stop(sig)

    # execute() runs on the test's own thread (Airflow 2 refuses operators run from other threads);
    # the pytest timeout mark turns a hang into a failure.
    with task_log() as log:
        fault = threading.Thread(target=pull_the_plug, args=(log,), daemon=True)
        fault.start()
        with pytest.raises(TaskFailed) as raised:
            _operator(engine, warehouse, "sleep").execute(
                {"run_id": run_id, "dag_run": SimpleNamespace(conf={})}
            )
        failed_at = time.monotonic()
        fault.join(BOUNDED_S)
        text = log.text()
    assert stopped, f"the kit never started:\n{text[-2000:]}\n{raised.value}"
    print(f"{sig.name}: the task failed {failed_at - stopped[0]:.2f}s after the engine was signalled")
    engine.start()

    message = str(raised.value)
    assert any(e in message for e in expected), message
    assert "Traceback" not in message
    # The container went with the engine (or the engine reaped it on start: it was --rm), the
    # work folder is gone, the warehouse is as it was.
    client = engine.client()
    try:
        assert containers_labelled(client, run_id) == []
    finally:
        client.close()
    assert list(work_dir.iterdir()) == []
    assert _rows(warehouse) == [(99,)]
    assert "kit: mode=sleep" in text

    # The retry: the same task again on the engine that came back.
    retry_id = f"{run_id}_retry"
    result = _operator(engine, warehouse, "copy").execute(
        {"run_id": retry_id, "dag_run": SimpleNamespace(conf={})}
    )
    assert result["exit_code"] == 0
    assert result["outputs"] == [{"name": "orders", "table": "silver.orders", "rows": 3}]
    assert _rows(warehouse) == [(0,), (1,), (2,)]
    client = engine.client()
    try:
        assert containers_labelled(client, retry_id) == []
    finally:
        client.close()
    assert list(work_dir.iterdir()) == []
