"""Sharing the warehouse file between the web tier's readers and the tasks that write it.

DuckDB lets one process write a file, or many processes read it. Opening the file costs ~15 ms,
an order of magnitude more than a small query, so a server process keeps it open between queries
(`SharedWarehouse`): one idle "anchor" connection holds the database instance, and each query
runs on a cursor of it (a connection of its own to the same instance: 3 µs, where connecting
beside it costs ~0.13 ms). The anchor goes away after `keepalive_s` without queries, and at once
when a writer announces itself; one that goes while queries run on its cursors is closed by the
last of them (closing a connection closes its cursors).

A writer announces itself with `open_for_writing`, which holds an exclusive `flock` on
`<warehouse>.write-intent` from before it asks DuckDB for the file until it is done. Readers
probe that lock (a shared, non-blocking `flock` that is released at once): while a writer holds
it, they let the file go and wait, up to their lock wait, then answer 503. The lock belongs to the
writer's open file, so a writer that dies releases it; nothing goes stale. Writers that do not
announce themselves still get the file in the gaps between bursts of queries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import duckdb

from airflow_platform.analytics.duckdb_engine import DuckDBWarehouse
from airflow_platform.exceptions import ServiceUnavailableError

__all__ = ["SharedWarehouse", "data_version", "intent_path", "open_for_writing", "writer_waiting"]

INTENT_SUFFIX = ".write-intent"
#: How often the keeper looks for a writer's intent and for idleness.
_KEEPER_TICK_S = 0.05


def intent_path(path: str) -> str:
    return path + INTENT_SUFFIX


def writer_waiting(path: str) -> bool:
    """Whether a writer holds (or waits for) the warehouse through `open_for_writing`."""
    try:
        fd = os.open(intent_path(path), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases the probe's shared lock
    return False


def data_version(path: str) -> str | None:
    """A fingerprint that changes whenever a writer changes the file (or its write-ahead log)."""
    parts = []
    for name in (path, path + ".wal"):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
    return None if parts[0] == "-" else "|".join(parts)


def _busy(error: BaseException) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text or "different configuration" in text


@contextlib.contextmanager
def open_for_writing(
    path: str, *, wait_s: float = 60.0, config: dict[str, Any] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the warehouse, for a loader (a DataKit task, the demo seed).

    Announces the write first, so server processes let the file go at once instead of after
    their keep-alive; waits up to `wait_s` for other writers and for queries in flight, then
    raises `ServiceUnavailableError`. The connection is closed (and the file checkpointed) on exit.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    deadline = time.monotonic() + wait_s
    fd = os.open(intent_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ServiceUnavailableError(
                        "Another writer holds the warehouse", details={"reason": "locked"}
                    ) from None
                time.sleep(0.02)
        while True:
            try:
                connection = duckdb.connect(path, config=config or {})
                break
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if not _busy(e):
                    raise
                if time.monotonic() >= deadline:
                    raise ServiceUnavailableError(
                        "Readers still hold the warehouse", details={"reason": "locked"}
                    ) from None
                time.sleep(0.02)
        try:
            yield connection
        finally:
            connection.close()
    finally:
        os.close(fd)


class SharedWarehouse(DuckDBWarehouse):
    """`DuckDBWarehouse` that keeps the file open between queries and yields it to writers."""

    def __init__(self, path: str, *, keepalive_s: float = 2.0, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.keepalive_s = keepalive_s
        self._anchor: duckdb.DuckDBPyConnection | None = None
        self._anchor_lock = threading.Lock()
        self._last_use = 0.0
        self._bytes: dict[tuple[str, str], int | None] = {}
        #: Queries running on each anchor's cursors, by the anchor's id; a released anchor waits
        #: here (in `_retired`) until its last query is done.
        self._cursors: dict[int, int] = {}
        self._retired: dict[int, duckdb.DuckDBPyConnection] = {}
        #: The anchor each open cursor came from, by the cursor's id.
        self._cursor_anchor: dict[int, duckdb.DuckDBPyConnection] = {}

    def _query_connection(self) -> duckdb.DuckDBPyConnection:
        self._wait_for_writers()
        with self._anchor_lock:
            anchor = self._anchor
            if anchor is not None:
                cursor = anchor.cursor()
                self._cursors[id(anchor)] = self._cursors.get(id(anchor), 0) + 1
                self._cursor_anchor[id(cursor)] = anchor
                self._last_use = time.monotonic()
                return cursor
        return self.connect_read_only()

    def _done_with(self, connection: duckdb.DuckDBPyConnection) -> None:
        retired = None
        with self._anchor_lock:
            anchor = self._cursor_anchor.pop(id(connection), None)
            if anchor is not None:
                left = self._cursors[id(anchor)] - 1
                if left:
                    self._cursors[id(anchor)] = left
                else:
                    del self._cursors[id(anchor)]
                    retired = self._retired.pop(id(anchor), None)
        connection.close()
        if retired is not None:
            retired.close()

    def connect_read_only(self) -> duckdb.DuckDBPyConnection:
        self._wait_for_writers()
        connection = super().connect_read_only()
        self._keep()
        return connection

    def _wait_for_writers(self) -> None:
        deadline = time.monotonic() + self.lock_wait_s
        while writer_waiting(self.path):
            self.release()
            if time.monotonic() >= deadline:
                raise ServiceUnavailableError(
                    "The warehouse is busy (a writer is loading data); try again",
                    details={"reason": "locked", "waited_seconds": self.lock_wait_s},
                    headers={"Retry-After": "1"},
                )
            time.sleep(0.02)

    def release(self) -> None:
        """Close the anchor: the file is free once the queries in flight are done."""
        with self._anchor_lock:
            anchor, self._anchor = self._anchor, None
            if anchor is not None and self._cursors.get(id(anchor)):
                self._retired[id(anchor)] = anchor  # its last query closes it
                anchor = None
        if anchor is not None:
            anchor.close()

    def _keep(self) -> None:
        self._last_use = time.monotonic()
        if self.keepalive_s <= 0:
            return
        with self._anchor_lock:
            if self._anchor is not None:
                return
            try:
                self._anchor = duckdb.connect(self.path, read_only=True, config=self.config)
            except duckdb.Error:
                return
        threading.Thread(target=self._watch, name="warehouse-keeper", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(_KEEPER_TICK_S)
            with self._anchor_lock:
                if self._anchor is None:
                    return
            if time.monotonic() - self._last_use > self.keepalive_s or writer_waiting(self.path):
                self.release()
                return

    def bytes_scanned(self, tables: tuple[str, ...], version: str | None) -> int | None:
        """Storage bytes of the tables read (blocks x block size), cached per data version.

        DuckDB reports no bytes-read figure per query while the configuration is locked, so this
        is the upper bound: what a full scan of those tables reads.
        """
        if not tables or version is None:
            return None
        total = 0
        known = False
        missing = [t for t in tables if (version, t) not in self._bytes]
        if missing:
            try:
                with self.connect_read_only() as connection:
                    block = connection.execute("SELECT block_size FROM pragma_database_size()").fetchone()
                    block_size = int(block[0]) if block else 262_144
                    for table in missing:
                        self._bytes[(version, table)] = _table_bytes(connection, table, block_size)
            except Exception:
                return None
            if len(self._bytes) > 10_000:
                self._bytes = {k: v for k, v in self._bytes.items() if k[0] == version}
        for table in tables:
            size = self._bytes.get((version, table))
            if size is not None:
                total += size
                known = True
        return total if known else None


def _table_bytes(connection: duckdb.DuckDBPyConnection, table: str, block_size: int) -> int | None:
    try:
        row = connection.execute(
            "SELECT count(DISTINCT block_id) FROM pragma_storage_info($t) WHERE block_id >= 0", {"t": table}
        ).fetchone()
    except duckdb.Error:
        return None  # a view, or a name DuckDB resolves elsewhere
    return int(row[0]) * block_size if row else None
