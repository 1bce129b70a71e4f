"""DataKitOperator on a real Docker engine with a real DuckDB warehouse (in a tmp folder).

The test kit is a busybox image whose entrypoint does what ``MODE`` (passed with the operator's
``environment=``) says: copy inputs to outputs, fail with 30 lines of output, sleep, skip or corrupt
its outputs, print its cgroup limits. Every failure must be a clear task error that leaves the
warehouse exactly as it was, and leave no container and no work folder behind.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from airflow_platform import compat
from airflow_platform.operators import DataKitOperator
from tests.datakits.docker_images import TEST_IMAGE, containers_labelled
from tests.datakits.task_log import task_log

pytestmark = pytest.mark.docker

TaskFailed, TaskFailedForGood = compat.task_exceptions()


def manifest(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "copy-kit",
        "version": "1.0.0",
        "image": TEST_IMAGE,
        "type": "transformation",
        "inputs": [{"name": "orders", "type": "table", "schema": "bronze"}],
        "outputs": [{"name": "orders", "type": "table", "schema": "silver"}],
        "configuration": {
            "batch_size": {"type": "integer", "default": 1000},
            "label": {"type": "string", "default": "nightly"},
            "strict": {"type": "boolean"},
        },
        "requirements": {},
    }
    base.update(changes)
    return base


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE SCHEMA bronze; CREATE SCHEMA silver")
        con.execute("CREATE TABLE bronze.orders (id INTEGER, amount DECIMAL(10, 2), placed DATE)")
        con.execute(
            "INSERT INTO bronze.orders VALUES (1, 10.50, '2024-01-01'), (2, 20.00, '2024-01-02'), "
            "(3, 7.25, '2024-01-03')"
        )
        con.execute("CREATE TABLE silver.orders AS SELECT 99 AS id, 'old' AS note")
        con.execute("CREATE TABLE silver.refunds AS SELECT 1 AS id")
    return path


@pytest.fixture(autouse=True)
def work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs stage their files here, so the tests can see that nothing is left behind."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_WORK_DIR", str(path))
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_LOCK_WAIT_SECONDS", "30")
    return path


def snapshot(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the warehouse with its rows, to prove a failed run changed nothing."""
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        return {f"{s}.{t}": sorted(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables}


def context(run_id: str | None = None, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"run_id": run_id or f"test_{uuid.uuid4().hex[:8]}", "dag_run": SimpleNamespace(conf=conf or {})}


def operator(warehouse: str, mode: str = "copy", **kwargs: Any) -> DataKitOperator:
    env = {"MODE": mode, "COPY": "orders:orders", **kwargs.pop("env", {})}
    kwargs.setdefault("manifest", manifest())
    return DataKitOperator(task_id="kit", warehouse_path=warehouse, environment=env, **kwargs)


def assert_clean(docker_engine: Any, run_id: str, work_dir: Path) -> None:
    assert containers_labelled(docker_engine, run_id) == []
    assert list(work_dir.iterdir()) == []


# --- success ------------------------------------------------------------------------------------


def test_run_loads_outputs_and_follows_the_contract(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    ctx = context(conf={"batch_size": 5000, "not_this_kits": True})
    op = operator(warehouse, configuration={"label": "backfill"})
    with task_log() as log:
        result = op.execute(ctx)

    assert result == {
        "outputs": [{"name": "orders", "table": "silver.orders", "rows": 3}],
        "exit_code": 0,
        "image": TEST_IMAGE,
    }
    after = snapshot(warehouse)
    assert after["silver.orders"] == after["bronze.orders"]
    assert len(after["silver.orders"]) == 3
    with duckdb.connect(warehouse, read_only=True) as con:  # types survive the Parquet round trip
        types = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' "
                            "AND table_schema = 'silver' ORDER BY ordinal_position").fetchall()  # fmt: skip
    assert [t for (t,) in types] == ["INTEGER", "DECIMAL(10,2)", "DATE"]

    text = log.text()
    # manifest defaults <- task configuration <- the run conf's keys that the kit declares
    assert 'DATAKIT_CONFIG={"batch_size": 5000, "label": "backfill"}' in text
    assert 'DATAKIT_INPUTS=[{"name": "orders", "path": "/datakit/inputs/orders.parquet"}]' in text
    assert 'DATAKIT_OUTPUTS=[{"name": "orders", "path": "/datakit/outputs/orders.parquet"}]' in text
    assert f"DATAKIT_RUN_ID={ctx['run_id']} DATAKIT_NAME=copy-kit DATAKIT_VERSION=1.0.0" in text
    assert "copied orders -> orders" in text
    assert "Output orders: 3 rows loaded into silver.orders" in text
    assert_clean(docker_engine, ctx["run_id"], work_dir)


def test_overrides_pick_other_tables_and_create_the_schema(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    op = operator(warehouse, inputs={"orders": "silver.refunds"}, outputs={"orders": "gold.refunds_copy"})
    result = op.execute(context())
    assert result["outputs"] == [{"name": "orders", "table": "gold.refunds_copy", "rows": 1}]
    assert snapshot(warehouse)["gold.refunds_copy"] == [(1,)]


def test_log_lines_reach_the_task_log_while_the_container_runs(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    """The kit waits for an answer to its first line: it can only finish if that line arrived live."""
    op = operator(warehouse, mode="wait", manifest=manifest(outputs=[]), timeout=300)
    answered = threading.Event()
    done = threading.Event()

    def answer() -> None:
        while not done.is_set():
            if "waiting for go" in log.lines():
                for outputs in work_dir.glob("datakit-*/outputs"):
                    (outputs / "go").touch()
                    answered.set()
                return
            done.wait(0.02)

    with task_log() as log:
        helper = threading.Thread(target=answer)
        helper.start()
        try:
            op.execute(context())
        finally:
            done.set()
            helper.join()
    lines = log.lines()
    assert answered.is_set()
    assert lines.index("waiting for go") < lines.index("got go")


def test_requirements_become_limits_and_there_is_no_network(
    docker_engine: Any, test_kit_image: str, warehouse: str
) -> None:
    kit = manifest(inputs=[], outputs=[], requirements={"cpu": "500m", "memory": "64Mi"})
    op = operator(warehouse, mode="limits", manifest=kit, env={"EXTRA": "yes"})
    with task_log() as log:
        op.execute(context())
    lines = log.lines()
    assert f"memory {64 * 1024 * 1024}" in lines
    assert "cpu 50000 100000" in lines
    assert "net lo " in lines  # network_mode none: loopback only
    assert "env EXTRA=yes" in lines


def test_unregistered_image_passes_all_configuration(
    docker_engine: Any, test_kit_image: str, warehouse: str
) -> None:
    op = DataKitOperator(
        task_id="kit",
        image=TEST_IMAGE,
        configuration={"anything": [1, 2]},
        inputs={"src": "bronze.orders"},
        outputs={"dst": "silver.orders_copy"},
        environment={"MODE": "copy", "COPY": "src:dst"},
        warehouse_path=warehouse,
    )
    with task_log() as log:
        result = op.execute(context(conf={"extra": "from-run"}))
    assert 'DATAKIT_CONFIG={"anything": [1, 2], "extra": "from-run"}' in log.lines()
    assert result["outputs"] == [{"name": "dst", "table": "silver.orders_copy", "rows": 3}]


def test_named_kit_is_read_from_the_registry_files(
    docker_engine: Any, test_kit_image: str, warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_platform.datakits import files

    folder = tmp_path / "registry"
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKITS_FOLDER", str(folder))
    files.write_manifest(manifest(name="copy-kit", version="2.0.0"), folder)
    result = operator(warehouse, manifest=None, datakit="copy-kit", version="2.0.0").execute(context())
    assert result["outputs"][0]["rows"] == 3

    before = snapshot(warehouse)
    with pytest.raises(TaskFailed, match=r"'copy-kit' version '9\.9\.9' is not registered"):
        operator(warehouse, manifest=None, datakit="copy-kit", version="9.9.9").execute(context())
    assert snapshot(warehouse) == before


# --- failures: each a clear task error, the warehouse unchanged -------------------------------------


def test_missing_image(docker_engine: Any, warehouse: str, work_dir: Path) -> None:
    before = snapshot(warehouse)
    op = operator(warehouse, manifest=manifest(image="platform-test/no-such-kit:0.0.1"))
    with pytest.raises(
        TaskFailed, match=r"Image platform-test/no-such-kit:0\.0\.1 is not on the Docker engine"
    ):
        op.execute(context())
    assert snapshot(warehouse) == before
    assert list(work_dir.iterdir()) == []


def test_non_zero_exit_fails_with_the_code_and_the_log_tail(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    before = snapshot(warehouse)
    ctx = context()
    with task_log() as log, pytest.raises(TaskFailed) as failure:
        operator(warehouse, mode="fail").execute(ctx)
    message = str(failure.value)
    assert "exited with code 3" in message
    tail = message.split("Last log lines:\n", 1)[1].splitlines()
    # The last 20 of 31 lines; stdout and stderr are separate pipes, so only the order within one
    # stream is certain: the stderr line may come before or after the stdout lines.
    assert len(tail) == 20
    numbered = [line for line in tail if line.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(31 - len(numbered), 31)]
    assert set(tail) - set(numbered) <= {"giving up"}
    assert "giving up" in log.lines()  # stderr reaches the task log too
    assert snapshot(warehouse) == before
    assert_clean(docker_engine, ctx["run_id"], work_dir)


def test_timeout_stops_the_container(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    before = snapshot(warehouse)
    ctx = context()
    with task_log() as log, pytest.raises(TaskFailed, match=r"longer than its timeout of 2s"):
        operator(warehouse, mode="sleep", timeout=2).execute(ctx)
    assert "sleeping" in log.lines()
    assert snapshot(warehouse) == before
    assert_clean(docker_engine, ctx["run_id"], work_dir)


def test_on_kill_stops_and_removes_the_container(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    """``on_kill`` comes from another thread (a signal handler) while ``execute`` waits on the kit."""
    before = snapshot(warehouse)
    ctx = context()
    op = operator(warehouse, mode="sleep", timeout=600)
    seen_running: list[int] = []
    done = threading.Event()

    def kill_when_running() -> None:
        while not done.is_set():
            if "sleeping" in log.lines():
                seen_running.append(len(containers_labelled(docker_engine, ctx["run_id"])))
                op.on_kill()
                return
            done.wait(0.02)

    with task_log() as log:
        killer = threading.Thread(target=kill_when_running)
        killer.start()
        try:
            with pytest.raises(TaskFailed, match="was stopped"):
                op.execute(ctx)
        finally:
            done.set()
            killer.join()
    assert seen_running == [1]
    assert snapshot(warehouse) == before
    assert_clean(docker_engine, ctx["run_id"], work_dir)


@pytest.mark.parametrize(
    ("configuration", "conf", "message"),
    [
        ({"batch_size": "lots"}, {}, r"batch_size='lots': expected integer, got str"),
        ({"strict": 1}, {}, r"strict=1: expected boolean, got int"),
        ({"bacth_size": 10}, {}, r"Unknown configuration key\(s\) for copy-kit 1\.0\.0: bacth_size"),
        ({}, {"batch_size": True}, r"batch_size=True: expected integer, got bool"),
    ],
)
def test_bad_configuration_fails_before_any_container(
    docker_engine: Any, warehouse: str, work_dir: Path, configuration: Any, conf: Any, message: str
) -> None:
    before = snapshot(warehouse)
    # The image does not exist: had a container been attempted, the error would say so.
    op = operator(
        warehouse, manifest=manifest(image="platform-test/never-started:1"), configuration=configuration
    )
    with pytest.raises(TaskFailedForGood, match=message):
        op.execute(context(conf=conf))
    assert snapshot(warehouse) == before
    assert list(work_dir.iterdir()) == []


def test_missing_input_table_fails_before_any_container(docker_engine: Any, warehouse: str) -> None:
    op = operator(warehouse, manifest=manifest(image="platform-test/never-started:1"))
    op.inputs = {"orders": "bronze.nope"}
    with pytest.raises(TaskFailed, match=r"Input table\(s\) not in the warehouse: bronze\.nope"):
        op.execute(context())


def test_missing_output_leaves_the_warehouse_unchanged(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    before = snapshot(warehouse)
    ctx = context()
    with pytest.raises(TaskFailed, match=r"did not write its output file\(s\) orders\.parquet.*unchanged"):
        operator(warehouse, mode="skip").execute(ctx)
    assert snapshot(warehouse) == before
    assert_clean(docker_engine, ctx["run_id"], work_dir)


def test_one_corrupt_output_loads_none(
    docker_engine: Any, test_kit_image: str, warehouse: str, work_dir: Path
) -> None:
    before = snapshot(warehouse)
    kit = manifest(
        outputs=[
            {"name": "orders", "type": "table", "schema": "silver"},
            {"name": "refunds", "type": "table", "schema": "silver"},
        ]
    )
    op = operator(warehouse, mode="corrupt", manifest=kit, env={"BROKEN": "refunds"})
    with pytest.raises(TaskFailed, match=r"Output refunds\.parquet could not be loaded .*unchanged"):
        op.execute(context())
    assert snapshot(warehouse) == before  # silver.orders was replaced in the transaction, then rolled back


def test_engine_from_an_airflow_connection(
    docker_engine: Any, test_kit_image: str, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"  # where docker_engine answered
    monkeypatch.setenv("AIRFLOW_CONN_DATAKIT_ENGINE", json.dumps({"conn_type": "docker", "host": url}))
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # would fail: the connection must win
    op = operator(warehouse, docker_conn_id="datakit_engine")
    assert op.execute(context())["outputs"][0]["rows"] == 3
