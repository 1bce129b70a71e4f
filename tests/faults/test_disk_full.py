"""The warehouse's disk fills up while DataKit outputs are loaded into it.

A small tmpfs holds the DuckDB warehouse; outputs are loaded through the platform's own write
path (``contract.load_outputs``, what DataKitOperator calls) until the disk is full. The error
must say so plainly, the failed load must leave nothing half-written, and the file must still open
with every earlier table intact. Once space is freed, the next load works.

DuckDB commits through its write-ahead log: a commit that cannot write the WAL fails and is rolled
back; a checkpoint that cannot write (on close) leaves the committed data in the WAL, which the
next open replays. Either way the file stays consistent.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from airflow_platform.datakits import contract

#: Small enough to fill in a few loads, large enough for DuckDB's first blocks and the WAL.
DISK_MB = 8
BALLAST_MB = 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root/CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """A DataKit's output folder (on the normal disk): one incompressible ~1 MB table."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    duckdb.sql(
        "COPY (SELECT range AS id, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS pad "
        f"FROM range(30000)) TO '{folder / 'orders.parquet'}' (FORMAT parquet)"
    )
    return folder


def _tables(path: str) -> dict[str, int]:
    with duckdb.connect(path, read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM silver."{n}"').fetchone()[0] for n in names}  # type: ignore[index]


def test_disk_full_is_a_clear_error_and_the_warehouse_stays_intact(small_disk: Path, outputs: Path) -> None:
    warehouse = str(small_disk / "warehouse.duckdb")
    with duckdb.connect(warehouse) as con:
        con.execute("CREATE SCHEMA silver")
        con.execute("CREATE TABLE silver.keep AS SELECT range AS id FROM range(1000)")
    ballast = small_disk / "ballast"  # freed at the end, as an operator would free space
    ballast.write_bytes(os.urandom(BALLAST_MB * 1024 * 1024))

    loaded: list[str] = []
    failure: contract.WarehouseFullError | None = None
    for i in range(50):  # bounded: the disk holds a handful of loads
        port = contract.Port("orders", "silver", f"orders_{i}")
        try:
            contract.load_outputs(warehouse, [port], outputs, lock_wait_s=5)
        except contract.WarehouseFullError as e:
            failure = e
            break
        loaded.append(port.table)
    assert failure is not None, "the disk never filled up"
    assert loaded, "not a single load fitted: the test disk is too small"

    message = failure.message
    assert message.startswith("The disk of the warehouse is full")
    assert str(small_disk) in message and "No space left on device" in message
    assert "rolled back" in message
    assert failure.details == {"path": warehouse, "reason": "disk_full"}
    assert failure.status == 503

    # Still a DuckDB file with everything committed before the failure, and nothing of the failed load.
    expected = {"keep": 1000, **dict.fromkeys(loaded, 30000)}
    assert _tables(warehouse) == expected

    # Space freed: the next load goes through, and earlier data is still there.
    ballast.unlink()
    contract.load_outputs(warehouse, [contract.Port("orders", "silver", "after")], outputs, lock_wait_s=5)
    assert _tables(warehouse) == {**expected, "after": 30000}
    # The disk is nearly full again: a forced checkpoint may now fail (DuckDB calls that FATAL and
    # invalidates the connection), and even then the file and its WAL still hold every table.
    checkpoint_error = ""
    with duckdb.connect(warehouse) as con:
        try:
            con.execute("CHECKPOINT")
        except duckdb.FatalException as e:
            checkpoint_error = str(e)
    assert not checkpoint_error or "No space left on device" in checkpoint_error
    checkpointed = not checkpoint_error
    assert _tables(warehouse) == {**expected, "after": 30000}
    print(f"disk full after {len(loaded)} loads of ~1 MB on a {DISK_MB} MB disk; checkpoint {checkpointed}")
