"""Readers and writers of the warehouse file, in real separate processes (DuckDB's locks are per process).

A server process keeps the file open between queries; a writer that announces itself gets it as
soon as the queries in flight are done; readers wait a bounded time for a writer and then answer
503; the data version moves exactly when a writer changed the file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from airflow_platform.analytics.access import SharedWarehouse, data_version, open_for_writing, writer_waiting
from airflow_platform.analytics.guard import check_read_only
from airflow_platform.exceptions import ServiceUnavailableError

WRITER = textwrap.dedent(
    """
    import sys
    from airflow_platform.analytics.access import open_for_writing
    with open_for_writing(sys.argv[1], wait_s=float(sys.argv[2])) as con:
        print("writing", flush=True)
        if sys.argv[3] == "hold":
            sys.stdin.readline()
        con.execute(f"CREATE OR REPLACE TABLE gold.t AS SELECT range AS n FROM range({int(sys.argv[4])})")
    print("written", flush=True)
    """
)


@pytest.fixture
def path(tmp_path: Path) -> str:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA gold; CREATE TABLE gold.t AS SELECT range AS n FROM range(1000)")
    return str(db)


def writer(path: str, *, hold: bool, rows: int = 5, wait_s: float = 30) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, path, str(wait_s), "hold" if hold else "go", str(rows)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def reader(path: str) -> Iterator[SharedWarehouse]:
    warehouse = SharedWarehouse(path, keepalive_s=60, lock_wait_s=1.0, threads=1, memory_limit="256MB")
    yield warehouse
    warehouse.release()


def count(warehouse: SharedWarehouse) -> int:
    result = warehouse.run(check_read_only("SELECT count(*) FROM gold.t"), {}, limit=1, timeout_s=10)
    assert isinstance(result.rows, list)
    return int(result.rows[0][0])


def eventually(condition, what: str, limit_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def test_the_file_stays_open_between_queries_and_is_let_go_when_idle(path: str) -> None:
    warehouse = SharedWarehouse(path, keepalive_s=0.2, threads=1, memory_limit="256MB")
    assert count(warehouse) == 1000
    assert warehouse._anchor is not None  # the instance outlives the query's own connection
    eventually(lambda: warehouse._anchor is None, "the idle warehouse was released")
    with open_for_writing(path, wait_s=5) as con:  # nobody in this process holds it any more
        con.execute("INSERT INTO gold.t VALUES (1)")


def test_an_announced_writer_gets_the_file_at_once_and_readers_see_its_data(
    path: str, reader: SharedWarehouse
) -> None:
    assert count(reader) == 1000 and reader._anchor is not None  # held for a minute if nobody asks
    proc = writer(path, hold=False, rows=7)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["writing", "written"]
    assert count(reader) == 7


def test_readers_wait_a_bounded_time_then_answer_503_then_carry_on(
    path: str, reader: SharedWarehouse
) -> None:
    assert count(reader) == 1000
    proc = writer(path, hold=True, rows=3)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "writing"  # it has the file: we let go of it
    assert writer_waiting(path)
    with pytest.raises(ServiceUnavailableError) as info:
        count(reader)
    assert info.value.headers == {"Retry-After": "1"} and info.value.details["reason"] == "locked"
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0
    assert not writer_waiting(path)
    assert count(reader) == 3


def test_a_writer_that_does_not_announce_itself_gets_the_file_when_readers_are_idle(path: str) -> None:
    warehouse = SharedWarehouse(path, keepalive_s=0.2, threads=1, memory_limit="256MB")
    assert count(warehouse) == 1000
    plain = textwrap.dedent(
        """
        import sys, time, duckdb
        deadline = time.monotonic() + 60
        while True:
            try:
                con = duckdb.connect(sys.argv[1]); break
            except duckdb.IOException:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        con.execute("INSERT INTO gold.t VALUES (1)"); con.close(); print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", plain, path], capture_output=True, text=True, timeout=90)
    assert done.stdout.strip() == "ok", done.stderr
    assert count(warehouse) == 1001


def test_data_version_moves_only_when_the_file_changes(path: str, reader: SharedWarehouse) -> None:
    before = data_version(path)
    assert before is not None
    count(reader)
    assert data_version(path) == before  # reading changes nothing
    reader.release()
    with open_for_writing(path, wait_s=10) as con:
        con.execute("INSERT INTO gold.t VALUES (1)")
    assert data_version(path) != before
    assert data_version(path + ".absent") is None


def test_bytes_scanned_is_the_tables_storage(path: str, reader: SharedWarehouse) -> None:
    version = data_version(path)
    scanned = reader.bytes_scanned(("gold.t",), version)
    assert scanned is not None and scanned > 0
    assert reader.bytes_scanned(("gold.t",), version) == scanned  # remembered per data version
    assert reader.bytes_scanned(("gold.nope",), version) is None
    assert reader.bytes_scanned((), version) is None


#: About a second on one thread, and DuckDB cannot shortcut it.
SLOW_COUNT = "SELECT count(*) FROM range(3000) a, range(100000) b WHERE (a.range + b.range) % 7 = 0"


def test_queries_run_on_cursors_of_the_anchor_and_a_released_anchor_waits_for_them(
    path: str, reader: SharedWarehouse
) -> None:
    """A query on the kept file runs on a cursor of the anchor; letting the file go while one runs
    must neither break it nor leave the file held after it."""
    assert count(reader) == 1000  # the first query opens the anchor
    started = threading.Event()
    outcome: list[object] = []

    def slow() -> None:
        started.set()
        try:
            outcome.append(
                reader.run(
                    check_read_only(SLOW_COUNT),
                    {},
                    limit=1,
                    timeout_s=60,
                ).rows
            )
        except Exception as e:  # reported by the assertion below
            outcome.append(e)

    thread = threading.Thread(target=slow)
    thread.start()
    started.wait()
    eventually(lambda: reader.running(), "the slow query runs")
    assert reader._cursors, "the query runs on a cursor of the anchor"
    reader.release()  # a writer announced itself, say: the anchor retires
    thread.join(60)
    assert outcome == [[(42857142,)]], outcome
    assert not reader._retired and not reader._cursors
    done = writer(path, hold=False, rows=7, wait_s=5)  # the file is free: a writer gets it at once
    out, err = done.communicate(timeout=30)
    assert done.returncode == 0 and "written" in out, err
    assert count(reader) == 7
