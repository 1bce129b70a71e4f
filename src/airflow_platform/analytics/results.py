"""Query results: Arrow IPC files every server process can read, and the formats they stream as.

A result is written once, as an Arrow IPC *stream* in record batches of `BATCH_ROWS` rows. A
page of rows (`offset`/`limit`) is read by memory-mapping the file and slicing the batches it
covers (reading a batch from a memory map copies nothing), so no process holds a whole result in
memory to serve it; and a client that wants every row as Arrow gets the file's bytes as they are
(`raw_chunks`), with nothing serialized again. Writing goes to a temporary name and is renamed
into place, so a reader never sees half a file. A cache hit links the earlier result's file under
the new query's name.

The formats (JSON, CSV, Arrow IPC stream, Parquet) are generators of byte chunks, one or a few per
record batch, so a response streams a result of any size in bounded memory.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow

__all__ = ["BATCH_ROWS", "ResultReader", "ResultStore", "StreamedResult", "stream", "to_rows"]

#: Rows per record batch in a result file: small enough for cheap pages, large enough to stream fast.
BATCH_ROWS = 65_536


class ResultStore:
    """A folder of result files, one per query id."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path_for(self, query_id: str) -> str:
        if not query_id.replace("_", "").isalnum():
            raise ValueError(f"not a query id: {query_id!r}")
        return os.path.join(self.root, query_id[-2:], f"{query_id}.arrow")

    def write(self, query_id: str, table: pyarrow.Table) -> tuple[str, int]:
        """Store `table` as the result of `query_id`; returns the path and its size in bytes."""
        import pyarrow as pa

        path = self.path_for(query_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with pa.OSFile(temporary, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
                for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                    writer.write_batch(batch)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return path, os.path.getsize(path)

    def share(self, source: str, query_id: str) -> str:
        """The file at `source` as the result of `query_id` too (a hard link; a copy where links fail)."""
        path = self.path_for(query_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        return path

    @staticmethod
    def exists(path: str | None) -> bool:
        return bool(path) and os.path.exists(str(path))

    @staticmethod
    def delete(path: str | None) -> None:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


class ResultReader:
    """Random access to the rows of one result file (or of an in-memory table)."""

    def __init__(self, source: str | pyarrow.Table) -> None:
        import pyarrow as pa

        if isinstance(source, str):
            self.path: str | None = source
            self._file: Any = pa.memory_map(source, "r")
            reader = pa.ipc.open_stream(self._file)
            self.schema: pyarrow.Schema = reader.schema
            self._batches = list(reader)
        else:
            self.path = None
            self._file = None
            self.schema = source.schema
            self._batches = source.to_batches(max_chunksize=BATCH_ROWS)
        self.num_rows = sum(b.num_rows for b in self._batches)

    def raw_chunks(self, chunk_bytes: int = 4 << 20) -> Iterator[bytes]:
        """The whole result as an Arrow IPC stream: the file's own bytes, read in large chunks."""
        assert self.path is not None
        with open(self.path, "rb") as f:
            while chunk := f.read(chunk_bytes):
                yield chunk

    @property
    def raw_size(self) -> int | None:
        return os.path.getsize(self.path) if self.path is not None else None

    def batches(self, offset: int = 0, limit: int | None = None) -> Iterator[pyarrow.RecordBatch]:
        """Batches covering rows `offset` .. `offset + limit` (all after `offset` when limit is None)."""
        remaining = self.num_rows - offset if limit is None else min(limit, self.num_rows - offset)
        start = offset
        for batch in self._batches:
            if remaining <= 0:
                return
            if start >= batch.num_rows:
                start -= batch.num_rows
                continue
            piece = batch.slice(start, min(remaining, batch.num_rows - start))
            start = 0
            remaining -= piece.num_rows
            yield piece

    def close(self) -> None:
        self._batches = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ResultReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamedResult:
    """A result written as DuckDB produces it, to its file, which one HTTP answer reads as it grows.

    The query's thread `add`s record batches; Arrow's own writer puts them into a temporary result
    file (no copy in Python, nothing held in memory beyond the page cache), and the answer reads
    the file's new bytes (`chunks`). The answer starts reading only once the result has proved
    large (`ready` after `start_after_bytes`) and the query goes on; a query that ends before is
    answered the ordinary way (`abandon`). Until an answer reads or lets go, and while it reads,
    the query waits when more than `max_buffer_bytes` are unread (a slow client slows the query
    rather than running it far ahead); an answer that goes away (`abandon`) lets it run on to its
    end, writing the file only. `commit` ends the stream and puts the file in place before the
    query's row says completed; `fail` drops the file and breaks the answer off (the client sees
    a cut connection, not a short result).
    """

    #: The most one chunk of the answer holds.
    CHUNK_BYTES = 4 << 20

    def __init__(
        self, store: ResultStore, query_id: str, *, start_after_bytes: int, max_buffer_bytes: int
    ) -> None:
        self.path = store.path_for(query_id)
        self._temporary = f"{self.path}.{uuid.uuid4().hex}.tmp"
        self._start_after = start_after_bytes
        self._max_buffer = max_buffer_bytes
        self._cond = threading.Condition()
        #: Bytes of the stream in the file, and bytes the answer has read.
        self._written = 0
        self._read = 0
        self._claimed = False
        self._abandoned = False
        self._ended = False
        self._error: BaseException | None = None
        self._file: Any = None
        self._writer: Any = None
        self._source: Any = None  # the answer's handle on the file
        self._reading = False
        #: Set once an answer should start reading: enough bytes came, or the stream ended.
        self.ready = threading.Event()
        #: Set once waiting longer cannot make the answer whole: the stream ended, or the query
        #: waits for an answer to read what it made.
        self.pressing = threading.Event()

    # -- the query's side --------------------------------------------------------------------

    def add(self, batch: pyarrow.RecordBatch, stopped: Callable[[], BaseException | None]) -> None:
        """Write one batch; `stopped` says (with the error to raise) when the query must stop."""
        if self._writer is None:
            self._open(batch.schema)
        self._writer.write_batch(batch)
        self._pass_on()
        with self._cond:
            # Unread bytes an answer may still read (claimed, or not decided yet) are capped.
            while not self._abandoned and self._written - self._read > self._max_buffer:
                self.pressing.set()
                self._cond.wait(0.1)
                error = stopped()
                if error is not None:
                    raise error

    def commit(self, schema: pyarrow.Schema) -> tuple[str, int]:
        """End the stream and put the file in place; returns its path and size."""
        try:
            if self._writer is None:
                self._open(schema)
            self._writer.close()
            self._pass_on()
            self._file.close()
            os.replace(self._temporary, self.path)  # an answer reading it keeps its handle
        except BaseException as e:
            self.fail(e)
            raise
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        self.ready.set()
        self.pressing.set()
        return self.path, os.path.getsize(self.path)

    def fail(self, error: BaseException) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temporary)
        with self._cond:
            if not self._ended:
                self._ended = True
                self._error = error
            self._cond.notify_all()
        self.ready.set()
        self.pressing.set()

    def _open(self, schema: pyarrow.Schema) -> None:
        import pyarrow as pa

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._file = pa.OSFile(self._temporary, "wb")
        self._writer = pa.ipc.new_stream(self._file, schema)

    def _pass_on(self) -> None:
        written = self._file.tell()
        with self._cond:
            self._written = written
            self._cond.notify_all()
            if written >= self._start_after:
                self.ready.set()

    # -- the answer's side -------------------------------------------------------------------

    def claim(self) -> bool:
        """Become the stream's one reader; False when it was abandoned or has ended already."""
        with self._cond:
            if self._abandoned or self._ended:  # ended: the query has its rows, answer them whole
                return False
            try:
                # Opened now: `commit` may rename the file before the answer reads its first chunk.
                self._source = open(self._temporary, "rb")  # noqa: SIM115 (closed by `chunks`)
            except FileNotFoundError:  # being put in place this instant: answered whole
                return False
            self._claimed = True
            return True

    def abandon(self) -> None:
        """No answer reads (any more): the query runs on to its file."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()
            source, reading = self._source, self._reading
        if source is not None and not reading:  # claimed, but the answer never started reading
            source.close()

    def chunks(self) -> Iterator[bytes]:
        """The Arrow IPC stream, as it comes; raises what stopped the query, if anything did."""
        assert self._source is not None, "claim() first"
        self._reading = True
        try:
            with self._source as f:
                while True:
                    with self._cond:
                        while self._read == self._written and not self._ended:
                            self._cond.wait()
                        if self._error is not None:
                            raise RuntimeError(
                                "The query stopped while its rows were being sent"
                            ) from self._error
                        ready = self._written - self._read
                    if not ready:
                        return
                    chunk = f.read(min(ready, self.CHUNK_BYTES))
                    with self._cond:
                        self._read += len(chunk)
                        self._cond.notify_all()
                    yield chunk
        finally:
            self.abandon()


# -- JSON ------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, int):  # beyond 64 bits (HUGEINT)
        return str(value)
    return _text(value)


def _text(value: Any) -> str:
    """Text for values JSON, CSV and Parquet have no type for: intervals as ISO 8601 durations."""
    if all(hasattr(value, a) for a in ("months", "days", "nanoseconds")):
        seconds = Decimal(value.nanoseconds) / Decimal(1_000_000_000)
        text = f"P{value.months}M{value.days}DT{seconds.normalize():f}S"
        return text.replace("P0M", "P").replace("T0S", "") if text != "P0M0DT0S" else "PT0S"
    return str(value)


def _json_ready(batch: pyarrow.RecordBatch) -> pyarrow.RecordBatch:
    """Whole-number decimals (DuckDB's HUGEINT sums) as integers, cast by Arrow in one go.

    Decimals with a scale stay Decimal objects and become the nearest float in `_json_default`
    (Arrow's own decimal-to-double cast is not correctly rounded: 470.90 would become
    470.90000000000003).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    changed = False
    for column in batch.columns:
        if pa.types.is_decimal(column.type) and column.type.scale == 0:
            try:
                column = pc.cast(column, pa.int64())
                changed = True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass  # beyond 64 bits: Decimal objects, written as numbers
        columns.append(column)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            seen[candidate] = 0
            out.append(candidate)
        else:
            seen[name] = 0
            out.append(name)
    return out


def to_rows(batches: Iterable[pyarrow.RecordBatch]) -> list[dict[str, Any]]:
    """Rows as dicts (what the JSON document's `data` holds)."""
    rows: list[dict[str, Any]] = []
    for batch in batches:
        rows.extend(_batch_rows(batch))
    return rows


def _batch_rows(batch: pyarrow.RecordBatch) -> list[dict[str, Any]]:
    batch = _json_ready(batch)
    names = _unique_names(batch.schema.names)
    columns = [column.to_pylist() for column in batch.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # an integer beyond 64 bits inside a list or struct
        return orjson.dumps(_big_ints(value), default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _big_ints(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, dict):
        return {k: _big_ints(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_big_ints(v) for v in value]
    return value


def json_rows(batches: Iterable[pyarrow.RecordBatch]) -> Iterator[bytes]:
    """`[row, row, ...]` in chunks, one per batch."""
    yield b"["
    first = True
    for batch in batches:
        if batch.num_rows == 0:
            continue
        body = dumps(_batch_rows(batch))[1:-1]
        yield body if first else b"," + body
        first = False
    yield b"]"


# -- CSV, Arrow, Parquet ---------------------------------------------------------------------


class _Drain:
    """A write-only file for Arrow writers whose bytes are taken out after each batch."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _plain_types(schema: pyarrow.Schema, fmt: str) -> list[Any]:
    """Per column: None to keep it, or how to turn it into text the format can hold."""
    import pyarrow as pa

    plan: list[Any] = []
    for field in schema:
        kind = field.type
        if fmt == "csv" and (
            pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
        ):
            plan.append("json")
        elif (fmt != "arrow" and pa.types.is_interval(kind)) or (
            fmt == "csv" and pa.types.is_dictionary(kind)
        ):
            plan.append("string")
        else:
            plan.append(None)
    return plan


def _apply(batch: pyarrow.RecordBatch, plan: list[Any]) -> pyarrow.RecordBatch:
    import pyarrow as pa

    if not any(plan):
        return batch
    columns = []
    for column, how in zip(batch.columns, plan, strict=True):
        if how == "json":
            values = [None if v is None else dumps(v).decode() for v in column.to_pylist()]
            column = pa.array(values, type=pa.string())
        elif how == "string":
            column = pa.array([None if v is None else _text(v) for v in column.to_pylist()], type=pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _planned_schema(schema: pyarrow.Schema, plan: list[Any]) -> pyarrow.Schema:
    import pyarrow as pa

    return pa.schema(
        [pa.field(f.name, pa.string()) if how else f for f, how in zip(schema, plan, strict=True)]
    )


def stream(fmt: str, schema: pyarrow.Schema, batches: Iterable[pyarrow.RecordBatch]) -> Iterator[bytes]:
    """The rows in `fmt` (csv, arrow, parquet, jsonrows), as byte chunks."""
    if fmt == "jsonrows":
        yield from json_rows(batches)
        return
    import pyarrow as pa

    plan = _plain_types(schema, fmt)
    out_schema = _planned_schema(schema, plan)
    sink = _Drain()
    if fmt == "arrow":
        writer: Any = pa.ipc.new_stream(sink, out_schema)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        writer = pacsv.CSVWriter(sink, out_schema)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(sink, out_schema, compression="zstd")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    for batch in batches:
        writer.write_batch(_apply(batch, plan))
        chunk = sink.take()
        if chunk:
            yield chunk
    writer.close()
    chunk = sink.take()
    if chunk:
        yield chunk
