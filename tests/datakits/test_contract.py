"""The run contract without containers: configuration, ports, quantities, staging and loading.

Real DuckDB files in tmp folders; a second process holds the warehouse lock where locking matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_platform.datakits import contract
from airflow_platform.datakits.contract import (
    DataKitConfigError,
    DataKitOutputError,
    Port,
    WarehouseBusyError,
)
from airflow_platform.exceptions import ResourceNotFoundError


def kit(**changes: Any) -> Any:
    body: dict[str, Any] = {
        "name": "customer-360",
        "version": "1.2.0",
        "image": "registry.local/kits/customer-360:1.2.0",
        "inputs": [
            {"name": "customers", "type": "table"},
            {"name": "orders", "type": "table", "schema": "raw"},
        ],
        "outputs": [{"name": "customer_360", "type": "table", "schema": "gold"}],
        "configuration": {
            "batch_size": {"type": "integer", "default": 1000},
            "ratio": {"type": "number", "default": 0.5},
            "mode": {"type": "string", "enum": ["fast", "full"], "default": "fast"},
            "dry_run": {"type": "boolean"},
            "columns": {"type": "array"},
            "options": {"type": "object"},
            "region": {"type": "string", "required": True},
        },
        "requirements": {"cpu": "2000m", "memory": "4Gi", "gpu": True},
    }
    body.update(changes)
    return contract.parse_manifest(body)


# --- configuration --------------------------------------------------------------------------------


def test_configuration_precedence() -> None:
    merged = contract.merge_configuration(
        kit(),
        {"batch_size": 5000, "region": "eu"},
        {"batch_size": 7000, "mode": "full", "target_table": "not declared: ignored"},
    )
    assert merged == {"batch_size": 7000, "ratio": 0.5, "mode": "full", "region": "eu"}


@pytest.mark.parametrize(
    ("configuration", "run_conf", "message"),
    [
        ({"region": "eu", "batch_size": "5000"}, {}, "batch_size='5000': expected integer, got str"),
        ({"region": "eu", "batch_size": 5.5}, {}, "batch_size=5.5: expected integer, got float"),
        ({"region": "eu"}, {"batch_size": False}, "batch_size=False: expected integer, got bool"),
        ({"region": "eu", "ratio": "half"}, {}, "ratio='half': expected number, got str"),
        ({"region": "eu", "mode": "slow"}, {}, "mode='slow': must be one of ['fast', 'full']"),
        ({"region": "eu", "dry_run": "yes"}, {}, "dry_run='yes': expected boolean, got str"),
        ({"region": "eu", "columns": "a,b"}, {}, "columns='a,b': expected array, got str"),
        ({"region": "eu", "options": []}, {}, "options=[]: expected object, got list"),
        ({}, {}, "region: required, and no value was given"),
        (
            {"region": "eu", "batchsize": 1},
            {},
            "Unknown configuration key(s) for customer-360 1.2.0: batchsize",
        ),
    ],
)
def test_configuration_mistakes(configuration: Any, run_conf: Any, message: str) -> None:
    with pytest.raises(DataKitConfigError) as error:
        contract.merge_configuration(kit(), configuration, run_conf)
    assert message in error.value.message


def test_number_accepts_integers_and_floats() -> None:
    merged = contract.merge_configuration(kit(), {"region": "eu", "ratio": 2}, {"ratio": 0.25})
    assert merged["ratio"] == 0.25


def test_invalid_manifest_is_a_config_error() -> None:
    with pytest.raises(DataKitConfigError, match="manifest is not valid: version"):
        contract.parse_manifest({"name": "x", "version": "one", "image": "x:1"})


# --- the plan --------------------------------------------------------------------------------------


def test_plan_with_manifest() -> None:
    plan = contract.plan_run(
        manifest=kit(),
        image=None,
        configuration={"region": "eu"},
        run_conf={},
        inputs={"orders": "bronze.orders_raw"},
        outputs={},
    )
    assert plan.image == "registry.local/kits/customer-360:1.2.0"
    # schemas: default bronze for inputs, the manifest's own, and the overrides
    assert [p.qualified for p in plan.inputs] == ["bronze.customers", "bronze.orders_raw"]
    assert [p.qualified for p in plan.outputs] == ["gold.customer_360"]
    assert plan.resources.nano_cpus == 2_000_000_000
    assert plan.resources.memory_bytes == 4 * 1024**3
    assert plan.resources.gpu is True
    assert plan.resources.network is False


@pytest.mark.parametrize(
    ("inputs", "outputs", "message"),
    [
        ({"orderz": "bronze.x"}, {}, "inputs override(s) for undeclared port(s): orderz"),
        ({}, {"customer_360": "gold.bad-name"}, "is not a 'schema.table'"),
        ({}, {"customer_360": 'gold."x"; DROP TABLE y'}, "is not a 'schema.table'"),
    ],
)
def test_plan_refuses_bad_ports(inputs: Any, outputs: Any, message: str) -> None:
    with pytest.raises(DataKitConfigError) as error:
        contract.plan_run(
            manifest=kit(),
            image=None,
            configuration={"region": "eu"},
            run_conf={},
            inputs=inputs,
            outputs=outputs,
        )
    assert message in error.value.message


def test_plan_without_manifest() -> None:
    plan = contract.plan_run(
        manifest=None,
        image="registry.local/team/thing:2.1",
        configuration={"a": 1},
        run_conf={"b": 2},
        inputs={"src": "bronze.src"},
        outputs={"dst": "out"},
    )
    assert (plan.name, plan.version) == ("thing", "2.1")
    assert plan.configuration == {"a": 1, "b": 2}
    assert [p.qualified for p in plan.outputs] == ["main.out"]
    with pytest.raises(DataKitConfigError):
        contract.plan_run(manifest=None, image=None, configuration={}, run_conf={}, inputs={}, outputs={})


def test_environment_is_the_contract() -> None:
    plan = contract.plan_run(
        manifest=kit(), image=None, configuration={"region": "eu"}, run_conf={}, inputs={}, outputs={}
    )
    env = plan.environment(
        "manual__1",
        {"customers": "/in/customers.parquet", "orders": "/in/orders.parquet"},
        {"customer_360": "/out/customer_360.parquet"},
    )
    assert json.loads(env["DATAKIT_CONFIG"]) == {
        "batch_size": 1000,
        "ratio": 0.5,
        "mode": "fast",
        "region": "eu",
    }
    assert json.loads(env["DATAKIT_INPUTS"]) == [
        {"name": "customers", "path": "/in/customers.parquet"},
        {"name": "orders", "path": "/in/orders.parquet"},
    ]
    assert json.loads(env["DATAKIT_OUTPUTS"]) == [
        {"name": "customer_360", "path": "/out/customer_360.parquet"}
    ]
    assert (env["DATAKIT_RUN_ID"], env["DATAKIT_NAME"], env["DATAKIT_VERSION"]) == (
        "manual__1",
        "customer-360",
        "1.2.0",
    )


# --- quantities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "nanos"),
    [
        ("2000m", 2_000_000_000),
        ("500m", 500_000_000),
        ("2", 2_000_000_000),
        ("0.5", 500_000_000),
        ("1.5", 1_500_000_000),
    ],
)
def test_cpu_quantities(quantity: str, nanos: int) -> None:
    assert contract.cpu_nanos(quantity) == nanos


@pytest.mark.parametrize(
    ("quantity", "size"),
    [("4Gi", 4 * 2**30), ("512Mi", 512 * 2**20), ("1G", 10**9), ("128974848", 128974848), ("100Ki", 102400)],
)
def test_memory_quantities(quantity: str, size: int) -> None:
    assert contract.memory_bytes(quantity) == size
    from kubernetes.utils import parse_quantity  # Kubernetes' own reading agrees

    assert int(parse_quantity(quantity)) == size


def test_bad_quantity() -> None:
    with pytest.raises(DataKitConfigError, match="not a Kubernetes quantity"):
        contract.memory_bytes("lots")


# --- the warehouse -----------------------------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    path = str(tmp_path / "wh.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE SCHEMA bronze; CREATE SCHEMA silver")
        con.execute("CREATE TABLE bronze.a AS SELECT range AS id, 'x' || range AS v FROM range(5)")
        con.execute("CREATE TABLE silver.a AS SELECT 'old' AS v")
        con.execute("CREATE TABLE silver.b AS SELECT 'old' AS v")
    return path


def tables(path: str) -> dict[str, list[Any]]:
    with duckdb.connect(path, read_only=True) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
        return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall()) for (n,) in names}


def test_stage_then_load_round_trip(warehouse: str, tmp_path: Path) -> None:
    staged = contract.stage_inputs(warehouse, [Port("a", "bronze", "a")], tmp_path / "in", lock_wait_s=5)
    assert staged == {"a": 5}
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "in" / "a.parquet").rename(out / "a.parquet")
    loaded = contract.load_outputs(warehouse, [Port("a", "gold", "a_copy")], out, lock_wait_s=5)
    assert loaded == [{"name": "a", "table": "gold.a_copy", "rows": 5}]
    assert tables(warehouse)["gold.a_copy"] == tables(warehouse)["bronze.a"]


def test_missing_input_table_stages_nothing(warehouse: str, tmp_path: Path) -> None:
    ports = [Port("a", "bronze", "a"), Port("z", "bronze", "zzz")]
    with pytest.raises(ResourceNotFoundError, match=r"not in the warehouse: bronze\.zzz"):
        contract.stage_inputs(warehouse, ports, tmp_path / "in", lock_wait_s=5)
    assert list((tmp_path / "in").iterdir()) == []


def test_no_warehouse_yet(tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFoundError, match="does not exist yet"):
        contract.stage_inputs(str(tmp_path / "none.duckdb"), [Port("a", "b", "c")], tmp_path, lock_wait_s=1)
    # Outputs create it.
    out = tmp_path / "out"
    out.mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT 1 AS x) TO '{out / 'n.parquet'}' (FORMAT parquet)")
    new = str(tmp_path / "sub" / "new.duckdb")
    assert contract.load_outputs(new, [Port("n", "silver", "n")], out, lock_wait_s=1)[0]["rows"] == 1


def test_loads_are_all_or_nothing(warehouse: str, tmp_path: Path) -> None:
    before = tables(warehouse)
    out = tmp_path / "out"
    out.mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT 'new' AS v) TO '{out / 'a.parquet'}' (FORMAT parquet)")
    (out / "b.parquet").write_bytes(b"PAR1 not really")
    ports = [Port("a", "silver", "a"), Port("b", "silver", "b")]
    with pytest.raises(DataKitOutputError, match=r"Output b\.parquet could not be loaded"):
        contract.load_outputs(warehouse, ports, out, lock_wait_s=5)
    assert tables(warehouse) == before
    (out / "b.parquet").unlink()
    with pytest.raises(DataKitOutputError, match=r"did not write its output file\(s\) b\.parquet"):
        contract.load_outputs(warehouse, ports, out, lock_wait_s=5)
    assert tables(warehouse) == before


_HOLD_LOCK = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
con.close()
"""


def test_load_waits_for_a_writer_of_another_process(warehouse: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT 'new' AS v) TO '{out / 'a.parquet'}' (FORMAT parquet)")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, warehouse],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseBusyError, match="stayed locked"):
            contract.load_outputs(warehouse, [Port("a", "silver", "a")], out, lock_wait_s=0.2)
        result: list[Any] = []
        loader = threading.Thread(
            target=lambda: result.append(
                contract.load_outputs(warehouse, [Port("a", "silver", "a")], out, lock_wait_s=120)
            )
        )
        loader.start()
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        loader.join()
    finally:
        holder.kill() if holder.poll() is None else None
        holder.wait()
    assert result == [[{"name": "a", "table": "silver.a", "rows": 1}]]
    assert tables(warehouse)["silver.a"] == [("new",)]


def test_table_rows(warehouse: str, tmp_path: Path) -> None:
    assert contract.table_rows(warehouse, "bronze.a") == 5
    assert contract.table_rows(warehouse, "bronze.nope") is None
    assert contract.table_rows(str(tmp_path / "none.duckdb"), "bronze.a") is None
