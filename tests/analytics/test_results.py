"""The results store and the formats rows stream as, with real Arrow files and real DuckDB types."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_platform.analytics.results import (
    BATCH_ROWS,
    ResultReader,
    ResultStore,
    json_rows,
    stream,
    to_rows,
)


@pytest.fixture(scope="module")
def typed_table() -> pa.Table:
    """Every awkward DuckDB type a query can answer with."""
    con = duckdb.connect()
    return con.sql(
        """
        SELECT range AS id, 'name ' || range AS name, (range / 100.0)::DECIMAL(12, 2) AS amount,
               (range * 1000)::HUGEINT AS big, DATE '2024-01-01' + range::INT AS day,
               TIMESTAMP '2024-01-01 08:00:00' + to_minutes(range) AS at,
               TIMESTAMPTZ '2024-01-01 08:00:00+00' AS at_tz, INTERVAL 3 DAY AS span,
               [range, range + 1] AS pair, {'k': range} AS obj, 'blob'::BLOB AS raw,
               CASE WHEN range % 2 = 0 THEN NULL ELSE range END AS maybe, sum(range) OVER () AS total
        FROM range(5)
        """
    ).to_arrow_table()


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(str(tmp_path / "results"))


def test_write_read_and_page_across_batches(store: ResultStore) -> None:
    rows = BATCH_ROWS * 2 + 10
    table = pa.table({"n": pa.array(range(rows), pa.int64())})
    path, size = store.write("q_" + "a" * 24, table)
    assert os.path.getsize(path) == size and not [p for p in os.listdir(os.path.dirname(path)) if "tmp" in p]
    with ResultReader(path) as reader:
        assert reader.num_rows == rows
        page = pa.Table.from_batches(list(reader.batches(BATCH_ROWS - 2, 5)))
        assert page.column("n").to_pylist() == list(range(BATCH_ROWS - 2, BATCH_ROWS + 3))
        assert sum(b.num_rows for b in reader.batches(rows - 3)) == 3
        assert list(reader.batches(rows)) == []
        assert sum(b.num_rows for b in reader.batches(0, 0)) == 0


def test_share_makes_an_independent_name(store: ResultStore) -> None:
    path, _ = store.write("q_" + "b" * 24, pa.table({"x": [1, 2]}))
    shared = store.share(path, "q_" + "c" * 24)
    store.delete(path)
    with ResultReader(shared) as reader:
        assert reader.num_rows == 2
    with pytest.raises(ValueError, match="not a query id"):
        store.path_for("../etc/passwd")


def test_json_rows_are_plain_json(typed_table: pa.Table) -> None:
    rows = orjson.loads(b"".join(json_rows(typed_table.to_batches())))
    first = rows[1]
    assert first["id"] == 1 and first["name"] == "name 1"
    assert first["amount"] == 0.01 and isinstance(first["amount"], float)
    assert first["big"] == 1000 and isinstance(first["big"], int)  # HUGEINT as an integer, not 1000.0
    assert first["day"] == "2024-01-02" and first["at"] == "2024-01-01T08:01:00"
    assert first["at_tz"].startswith("2024-01-01T08:00:00")
    assert first["pair"] == [1, 2] and first["obj"] == {"k": 1}
    assert first["span"] == "P3D"  # ISO 8601
    assert first["raw"] == "YmxvYg=="  # base64
    assert rows[0]["maybe"] is None and first["total"] == 10
    assert to_rows(typed_table.to_batches())[1]["id"] == 1


def test_decimals_are_the_nearest_float_not_arrows_cast() -> None:
    table = duckdb.sql("SELECT 470.90::DECIMAL(12, 2) AS v").to_arrow_table()
    assert orjson.loads(b"".join(json_rows(table.to_batches())))[0]["v"] == 470.9


def test_duplicate_column_names_stay_apart() -> None:
    table = duckdb.sql("SELECT 1 AS a, 2 AS a").to_arrow_table()
    assert orjson.loads(b"".join(json_rows(table.to_batches()))) == [{"a": 1, "a_1": 2}]


@pytest.mark.parametrize("fmt", ["arrow", "parquet", "csv"])
def test_binary_and_text_formats_round_trip(typed_table: pa.Table, fmt: str) -> None:
    data = b"".join(stream(fmt, typed_table.schema, typed_table.to_batches(max_chunksize=2)))
    if fmt == "arrow":
        back = pa.ipc.open_stream(data).read_all()
        assert back.equals(typed_table)
    elif fmt == "parquet":
        back = pq.read_table(io.BytesIO(data))
        assert back.num_rows == 5 and back.column("amount").to_pylist()[1] == Decimal("0.01")
        assert back.column("span").to_pylist()[0] == "P3D"  # intervals become ISO 8601 text
    else:
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert len(rows) == 5 and rows[1]["name"] == "name 1" and rows[1]["amount"] == "0.01"
        assert orjson.loads(rows[1]["pair"]) == [1, 2] and orjson.loads(rows[1]["obj"]) == {"k": 1}


def test_empty_results_still_carry_their_columns() -> None:
    table = duckdb.sql("SELECT 1 AS a, 'x' AS b WHERE false").to_arrow_table()
    assert pa.ipc.open_stream(b"".join(stream("arrow", table.schema, []))).read_all().schema == table.schema
    assert b"".join(stream("csv", table.schema, [])).decode().strip() == '"a","b"'
    assert pq.read_table(io.BytesIO(b"".join(stream("parquet", table.schema, [])))).num_rows == 0
    assert b"".join(json_rows([])) == b"[]"


def test_streams_come_in_chunks_per_batch() -> None:
    table = pa.table({"n": pa.array(range(10 * 1000), pa.int64())})
    chunks = list(stream("arrow", table.schema, table.to_batches(max_chunksize=1000)))
    assert len(chunks) >= 10  # one or more per batch: never the whole result in one piece
