"""The read-only DuckDB warehouse, proved with the real engine on a real file.

The guard is one layer; these tests take it away. Every hostile statement of the corpus is sent to
the engine directly (bypassing the guard, and once more bypassing the engine's own statement
check too), and must neither read the secret file next to the warehouse nor change the
warehouse, its tables or its folder. Then: settings are locked, extensions cannot be installed,
rows are limited, parameters are values, a timeout and a cancel interrupt the engine, and a
writer in another process makes readers wait a bounded time and then answer 503.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from airflow_platform.analytics.duckdb_engine import (
    DuckDBWarehouse,
    QueryCancelledError,
    QueryTimeoutError,
    _Execution,
    _ParseTree,
)
from airflow_platform.analytics.guard import (
    ReadOnlyQuery,
    check_read_only,
    function_is_denied,
    looks_like_path,
    table_function_is_allowed,
)
from airflow_platform.exceptions import (
    PlatformError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from tests.analytics.attack_corpus import ATTACKS, LEGITIMATE, PARSER_DIFFERENTIALS, Attack, Legit

SECRET = "TOP-SECRET-" + uuid.uuid4().hex
ORDERS = 100_000

#: Everything the corpus throws at DuckDB, bombs aside (they have their own test).
DUCKDB_ATTACKS = [a for a in ATTACKS if a.dialect == "duckdb" and a.stage == "guard"] + PARSER_DIFFERENTIALS
BOMBS = [a for a in ATTACKS if a.stage == "engine"]


@dataclass(frozen=True)
class Site:
    """A warehouse file, a secret file beside it, and a folder nothing may be written to."""

    folder: Path
    db: Path
    secret: Path
    out: Path

    def concrete(self, sql: str) -> str:
        return (
            sql.replace("__SECRET__", str(self.secret))
            .replace("__OUT__", str(self.out))
            .replace("__DB__", str(self.db))
        )


def build_warehouse(path: Path) -> None:
    """Schemas bronze/silver/gold and four tables, written by an ordinary writer connection."""
    con = duckdb.connect(str(path))
    con.execute(
        f"""
        CREATE SCHEMA bronze; CREATE SCHEMA silver; CREATE SCHEMA gold;
        CREATE TABLE gold.dim_customer AS
            SELECT range AS customer_id, 'customer ' || range AS name,
                   ['Diamond', 'Gold', 'Silver', 'Bronze'][1 + range % 4] AS customer_segment,
                   (range * 37 % 20000)::DOUBLE AS lifetime_value, range % 5 <> 0 AS is_active,
                   DATE '2020-01-01' + (range % 1000)::INT AS signup_date,
                   ['a', 'b' || (range % 3)] AS tags
            FROM range(1000);
        CREATE TABLE gold.fact_orders AS
            SELECT range AS order_id, range % 1000 AS customer_id,
                   DATE '2024-01-01' + (range % 120)::INT AS order_date,
                   ['EU', 'US', 'APAC'][1 + range % 3] AS region,
                   ['books', 'games', 'tools', 'food'][1 + range % 4] AS product_category,
                   ((range * 7919) % 100000 / 100.0)::DECIMAL(12, 2) AS total_amount,
                   CASE WHEN range % 10 = 0 THEN 'refunded' ELSE 'paid' END AS status
            FROM range({ORDERS});
        CREATE TABLE silver.events AS
            SELECT range AS event_id, range % 1000 AS customer_id,
                   CASE WHEN range % 2 = 0 THEN 'click' ELSE 'view' END AS kind,
                   TIMESTAMP '2024-01-01' + to_minutes(range) AS ts,
                   json_object('page', '/p/' || (range % 50)) AS payload
            FROM range(10000);
        CREATE TABLE bronze.raw AS SELECT range::INT AS id, 'line ' || range AS line FROM range(100);
        """
    )
    con.close()


def make_site(folder: Path) -> Site:
    folder.mkdir(parents=True, exist_ok=True)
    site = Site(
        folder=folder, db=folder / "warehouse.duckdb", secret=folder / "secret.csv", out=folder / "out"
    )
    build_warehouse(site.db)
    site.secret.write_text(f"secret\n{SECRET}\n")
    site.out.mkdir()
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("warehouse"))


@pytest.fixture(scope="module")
def warehouse(site: Site) -> DuckDBWarehouse:
    return DuckDBWarehouse(str(site.db), memory_limit="512MB", threads=2, lock_wait_s=2.0)


def unchecked(sql: str) -> ReadOnlyQuery:
    """A query that never went through the guard: the engine alone must hold."""
    return ReadOnlyQuery(
        sql=sql, normalized=sql, dialect="duckdb", kind="select", tables=(), schemas=(), parameters=()
    )


def snapshot(site: Site) -> tuple[str, int, int, list[str]]:
    """The warehouse's bytes, mtime and size, and every file in its folder."""
    data = site.db.read_bytes()
    stat = site.db.stat()
    files = sorted(str(p.relative_to(site.folder)) for p in site.folder.rglob("*"))
    return hashlib.sha256(data).hexdigest(), stat.st_mtime_ns, stat.st_size, files


def persistent_tables(warehouse: DuckDBWarehouse) -> list[tuple[str, str, int]]:
    with warehouse.connect_read_only() as con:
        return con.execute(
            "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
            "WHERE NOT temporary ORDER BY ALL"
        ).fetchall()


def raw(con: duckdb.DuckDBPyConnection, sql: str, timeout_s: float = 10.0) -> tuple[bool, str]:
    """Run text on a connection as it is (no guard, no statement check); what came back, as text."""
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        con.execute(sql)
        return True, repr(con.fetchmany(100))
    except duckdb.Error as e:
        return False, f"{type(e).__name__}: {e}"
    finally:
        timer.cancel()


def _id(case: Attack | Legit) -> str:
    return f"{getattr(case, 'category', 'legit')}:{case.label}"


# -- the configuration ------------------------------------------------------------------------


def test_connection_is_read_only_with_external_access_off(warehouse: DuckDBWarehouse) -> None:
    with warehouse.connect_read_only() as con:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
                "'autoinstall_known_extensions', 'autoload_known_extensions', 'allow_community_extensions', "
                "'allow_unsigned_extensions', 'allow_extension_repositories', 'allow_persistent_secrets', "
                "'allow_unredacted_secrets', 'python_enable_replacements', 'lock_configuration', 'threads', "
                "'access_mode')"
            ).fetchall()
        )
    assert settings == {
        "access_mode": "read_only",
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_unsigned_extensions": "false",
        "allow_extension_repositories": "forbidden",
        "allow_persistent_secrets": "false",
        "allow_unredacted_secrets": "false",
        "python_enable_replacements": "false",
        "lock_configuration": "true",
        "threads": "2",
    }


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "SET GLOBAL enable_external_access = true",
        "SET lock_configuration = false",
        "SET threads = 16",
        "SET memory_limit = '64GB'",
        "SET allowed_directories = ['/']",
        "SET autoload_known_extensions = true",
        "SET allow_unsigned_extensions = true",
        "SET allowed_configs = ['enable_external_access']",
        "SET allowed_paths = ['/etc/passwd']",
        "RESET threads",
        "PRAGMA threads = 16",
    ],
)
def test_set_fails_after_the_lock(warehouse: DuckDBWarehouse, statement: str) -> None:
    with warehouse.connect_read_only() as con:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(statement)
        assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)


@pytest.mark.parametrize(
    "statement",
    [
        "INSTALL httpfs",
        "FORCE INSTALL httpfs",
        "INSTALL httpfs FROM community",
        "LOAD httpfs",
        "LOAD '/tmp/evil.duckdb_extension'",
        "CREATE EXTENSION REPOSITORY example.com",
        "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
        "SELECT * FROM 's3://bucket/x.parquet'",
    ],
)
def test_extensions_and_network_are_out_of_reach(warehouse: DuckDBWarehouse, statement: str) -> None:
    with warehouse.connect_read_only() as con:
        with pytest.raises(duckdb.Error):
            con.execute(statement)
        # httpfs would have added its S3 settings; duckdb_extensions() itself needs file access.
        assert con.execute("SELECT count(*) FROM duckdb_settings() WHERE name LIKE 's3_%'").fetchone() == (0,)


# -- the corpus against the engine alone ------------------------------------------------------


@pytest.fixture(scope="module")
def baseline_tables(warehouse: DuckDBWarehouse) -> list[tuple[str, str, int]]:
    return persistent_tables(warehouse)


@pytest.mark.parametrize("attack", DUCKDB_ATTACKS, ids=_id)
def test_raw_attack_cannot_read_files_or_write(
    site: Site, warehouse: DuckDBWarehouse, baseline_tables: list[tuple[str, str, int]], attack: Attack
) -> None:
    """No guard and no statement check: only the connection's own settings stand in the way."""
    before = snapshot(site)
    with warehouse.connect_read_only() as con:
        _, answer = raw(con, site.concrete(attack.sql))
        # Whatever ran, the configuration is what it was.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    assert SECRET not in answer, answer
    assert snapshot(site) == before
    assert persistent_tables(warehouse) == baseline_tables


@pytest.mark.parametrize("attack", DUCKDB_ATTACKS, ids=_id)
def test_attack_through_run_without_the_guard_is_a_4xx(
    site: Site, warehouse: DuckDBWarehouse, baseline_tables: list[tuple[str, str, int]], attack: Attack
) -> None:
    """`run` given text the guard never saw: refused with a 4xx, or a harmless read."""
    before = snapshot(site)
    error: PlatformError | None = None
    try:
        answer = repr(warehouse.run(unchecked(site.concrete(attack.sql)), {}, limit=100, timeout_s=10).rows)
    except PlatformError as e:
        error, answer = e, e.message
    if error is not None:
        assert 400 <= error.status < 500, f"{type(error).__name__}: {error.message}"
    assert SECRET not in answer
    assert snapshot(site) == before
    assert persistent_tables(warehouse) == baseline_tables


def test_engine_checks_the_statement_with_its_own_parser(warehouse: DuckDBWarehouse) -> None:
    for sql, message in [
        ("SELECT 1; SELECT 2", "Only one statement"),
        ("PRAGMA version", "PRAGMA is not allowed"),
        ("CALL pragma_version()", "CALL is not allowed"),
        ("SET threads = 1", "SET is not allowed"),
        ("CHECKPOINT", "CALL is not allowed"),
        ("UPDATE EXTENSIONS", "could not parse"),
    ]:
        with pytest.raises(ValidationError, match=message):
            warehouse.run(unchecked(sql), {}, limit=10, timeout_s=5)


def test_a_write_inside_a_read_is_refused_by_the_engine(warehouse: DuckDBWarehouse) -> None:
    sql = "WITH x AS (DELETE FROM gold.fact_orders RETURNING *) SELECT count(*) FROM x"
    # DuckDB's parse tree shows the DELETE, so `run` refuses before executing ...
    with pytest.raises(ValidationError, match="A write is not allowed") as info:
        warehouse.run(unchecked(sql), {}, limit=10, timeout_s=5)
    assert info.value.details == {"reason": "statement"}
    # ... and executed anyway, the read-only file refuses it.
    with warehouse.connect_read_only() as con, pytest.raises(duckdb.InvalidInputException, match="read-only"):
        con.execute(sql)


def test_engine_refuses_what_its_own_parser_sees_and_the_guard_did_not(warehouse: DuckDBWarehouse) -> None:
    """A query claiming fewer tables than DuckDB reads (a parser differential) is refused."""
    honest = check_read_only("SELECT count(*) FROM gold.fact_orders JOIN silver.events USING (customer_id)")
    assert warehouse.run(honest, {}, limit=1, timeout_s=10).rows_returned == 1
    lying = dataclasses.replace(honest, tables=("gold.fact_orders",))
    with pytest.raises(ValidationError, match=r"silver\.events, which the query check did not see"):
        warehouse.run(lying, {}, limit=1, timeout_s=10)
    hidden_function = dataclasses.replace(
        check_read_only("SELECT 1 AS x"), normalized="SELECT 'threads'.current_setting() AS x"
    )
    with pytest.raises(ValidationError, match=r"current_setting\(\) is not allowed"):
        warehouse.run(hidden_function, {}, limit=1, timeout_s=10)
    hidden_table_function = dataclasses.replace(
        check_read_only("SELECT 1 AS x"), normalized="SELECT * FROM query_table('silver.events')"
    )
    with pytest.raises(ValidationError, match=r"query_table\(\) is not allowed"):
        warehouse.run(hidden_table_function, {}, limit=1, timeout_s=10)


def test_a_view_over_a_file_passes_the_guard_but_not_the_engine(tmp_path: Path) -> None:
    """What the parser cannot see: a writer's view that reads a file. The engine still refuses."""
    view_site = make_site(tmp_path / "views")
    with duckdb.connect(str(view_site.db)) as writer:
        writer.execute(f"CREATE VIEW gold.leak AS SELECT * FROM read_text('{view_site.secret}')")
    engine = DuckDBWarehouse(str(view_site.db))
    query = check_read_only("SELECT content FROM gold.leak", allowed_schemas={"gold"})
    assert query.tables == ("gold.leak",)
    with pytest.raises(ValidationError) as info:
        engine.run(query, {}, limit=10, timeout_s=10)
    assert info.value.details == {"reason": "permission"}
    assert SECRET not in info.value.message


def test_guard_and_duckdb_agree_on_mutated_corpus_texts() -> None:
    """Mutations of every corpus text: the guard never crashes, and what it accepts, DuckDB's own
    parser reads as one SELECT/EXPLAIN with no denied function, file table or write."""
    rng = random.Random(20260101)
    seeds = [a.sql for a in ATTACKS + PARSER_DIFFERENTIALS if len(a.sql) < 2000] + [c.sql for c in LEGITIMATE]
    pieces = [*"'\";:$()/*-\n[]{},.\\ ?@", "--", "/*", "*/", "$$", "::", ":x", "$1", "E'", "U&"]
    pieces += [
        "read_text('/etc/passwd')",
        "; DROP TABLE t",
        "'x.csv'",
        "FROM ",
        "WITH a AS (",
        "DELETE FROM t ",
    ]
    con = duckdb.connect()
    accepted = 0
    for _ in range(3000):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(text))
            roll = rng.random()
            if roll < 0.5:
                text = text[:at] + rng.choice(pieces) + text[at:]
            elif roll < 0.8:
                text = text[:at] + text[at + rng.randint(1, 5) :]
            else:
                text = text[:at]
        try:
            query = check_read_only(text)
        except ValidationError:
            continue
        accepted += 1
        try:
            kinds = [s.type.name for s in con.extract_statements(query.normalized)]
        except duckdb.Error:
            continue  # DuckDB cannot parse it either: it cannot run
        assert kinds in (["SELECT"], ["EXPLAIN"]), (text, query.normalized)
        if kinds == ["SELECT"]:
            tree = json.loads(
                con.execute("SELECT json_serialize_sql($q)", {"q": query.normalized}).fetchall()[0][0]
            )
            if tree.get("error"):
                continue
            seen = _ParseTree()
            seen.collect(tree)
            assert not seen.writes, (text, query.normalized)
            assert not [f for f in seen.functions if function_is_denied(f)], (text, query.normalized)
            assert all(table_function_is_allowed(f) for f in seen.table_functions), (text, query.normalized)
            assert not [t for t in seen.tables if looks_like_path(t[2])], (text, query.normalized)
    assert accepted > 100  # the mutations do produce accepted queries to compare


# -- ordinary reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("legit", LEGITIMATE, ids=_id)
def test_legitimate_query_runs(warehouse: DuckDBWarehouse, legit: Legit) -> None:
    result = warehouse.run(check_read_only(legit.sql), legit.parameters, limit=50, timeout_s=30)
    assert result.columns
    assert len(result.types) == len(result.columns)
    assert result.rows_returned == len(result.rows) <= 50
    assert result.execution_time_ms >= 0


def test_reference_query_gives_the_expected_figures(warehouse: DuckDBWarehouse) -> None:
    result = warehouse.run(
        check_read_only(
            "SELECT customer_segment, COUNT(*) AS customer_count FROM gold.dim_customer "
            "WHERE is_active = true GROUP BY customer_segment ORDER BY customer_segment"
        ),
        {},
        limit=10,
        timeout_s=10,
    )
    assert result.columns == ["customer_segment", "customer_count"]
    assert result.types == ["VARCHAR", "BIGINT"]
    assert result.rows == [("Bronze", 200), ("Diamond", 200), ("Gold", 200), ("Silver", 200)]
    assert not result.truncated


def test_row_limit_and_truncated(warehouse: DuckDBWarehouse) -> None:
    query = check_read_only("SELECT order_id FROM gold.fact_orders ORDER BY order_id")
    result = warehouse.run(query, {}, limit=10, timeout_s=10)
    assert result.rows == [(i,) for i in range(10)]
    assert result.rows_returned == 10 and result.truncated
    exact = warehouse.run(check_read_only("SELECT * FROM bronze.raw"), {}, limit=100, timeout_s=10)
    assert exact.rows_returned == 100 and not exact.truncated
    roomy = warehouse.run(check_read_only("SELECT * FROM bronze.raw"), {}, limit=1000, timeout_s=10)
    assert roomy.rows_returned == 100 and not roomy.truncated
    none = warehouse.run(query, {}, limit=0, timeout_s=10)
    assert none.rows == [] and none.truncated


def test_a_limit_on_a_huge_result_streams(warehouse: DuckDBWarehouse) -> None:
    """limit + 1 rows are fetched from a streaming result: the rest is never produced."""
    started = time.monotonic()
    result = warehouse.run(check_read_only("SELECT * FROM range(5000000000)"), {}, limit=5, timeout_s=20)
    assert result.rows_returned == 5 and result.truncated
    assert time.monotonic() - started < 10


def test_bad_limits_and_timeouts_are_refused(warehouse: DuckDBWarehouse) -> None:
    with pytest.raises(ValidationError):
        warehouse.run(check_read_only("SELECT 1"), {}, limit=-1, timeout_s=1)
    with pytest.raises(ValidationError):
        warehouse.run(check_read_only("SELECT 1"), {}, limit=1, timeout_s=0)


# -- parameters -------------------------------------------------------------------------------


def test_parameters_are_bound_by_the_engine(warehouse: DuckDBWarehouse) -> None:
    query = check_read_only(
        "SELECT count(*) AS n FROM gold.fact_orders "
        "WHERE order_date >= :start_date AND order_date < :end_date"
    )
    result = warehouse.run(
        query, {"start_date": "2024-01-01", "end_date": "2024-01-11"}, limit=1, timeout_s=10
    )
    assert result.rows == [(10 * len(range(0, ORDERS, 120)),)]  # order_date = 2024-01-01 + id % 120
    exact = warehouse.run(
        check_read_only("SELECT count(*) FROM gold.fact_orders WHERE order_date = :d"),
        {"d": "2024-01-01"},
        limit=1,
        timeout_s=10,
    )
    assert exact.rows == [(len(range(0, ORDERS, 120)),)]


def test_a_hostile_parameter_value_is_just_a_string(
    warehouse: DuckDBWarehouse, baseline_tables: list[tuple[str, str, int]]
) -> None:
    hostile = "'; DROP TABLE gold.fact_orders; --"
    result = warehouse.run(
        check_read_only("SELECT :v AS v, count(*) AS n FROM gold.dim_customer WHERE name = :v"),
        {"v": hostile},
        limit=5,
        timeout_s=10,
    )
    assert result.rows == [(hostile, 0)]
    assert result.types == ["VARCHAR", "BIGINT"]
    assert persistent_tables(warehouse) == baseline_tables


def test_parameter_types_follow_the_values(warehouse: DuckDBWarehouse) -> None:
    import datetime as dt
    from decimal import Decimal

    result = warehouse.run(
        check_read_only(
            "SELECT :i + 1 AS i, :f * 2 AS f, :b AS b, :d AS d, :n AS n, :s AS s, :l AS l, :m AS m"
        ),
        {
            "i": 41,
            "f": 1.5,
            "b": True,
            "d": dt.date(2024, 1, 31),
            "n": None,
            "s": "x",
            "l": [1, 2],
            "m": Decimal("1.25"),
        },
        limit=1,
        timeout_s=10,
    )
    assert result.rows == [(42, 3.0, True, dt.date(2024, 1, 31), None, "x", [1, 2], Decimal("1.25"))]


def test_parameter_in_limit_and_extra_parameters_are_ignored(warehouse: DuckDBWarehouse) -> None:
    result = warehouse.run(
        check_read_only("SELECT id FROM bronze.raw ORDER BY id LIMIT :n"),
        {"n": 3, "unused": "x", "end_date": "2024-01-31"},
        limit=100,
        timeout_s=10,
    )
    assert result.rows == [(0,), (1,), (2,)]


def test_missing_or_unbindable_parameters_are_refused(warehouse: DuckDBWarehouse) -> None:
    query = check_read_only("SELECT * FROM bronze.raw WHERE id = :id AND line = :line")
    with pytest.raises(ValidationError, match="Missing value for parameter :id, :line"):
        warehouse.run(query, {}, limit=1, timeout_s=5)
    with pytest.raises(ValidationError, match="cannot be bound"):
        warehouse.run(query, {"id": {"nested": 1}, "line": "x"}, limit=1, timeout_s=5)
    with pytest.raises(ValidationError, match="cannot be bound"):
        warehouse.run(query, {"id": object(), "line": "x"}, limit=1, timeout_s=5)


# -- time, memory, cancel -----------------------------------------------------------------------


def test_timeout_interrupts_a_long_cross_join(warehouse: DuckDBWarehouse) -> None:
    query = check_read_only("SELECT count(*) FROM range(1000000) a, range(1000000) b")
    timeout_s = 1.0
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info:
        warehouse.run(query, {}, limit=10, timeout_s=timeout_s)
    elapsed = time.monotonic() - started
    assert elapsed < 2 * timeout_s, elapsed
    assert info.value.status == 400
    assert info.value.details == {"reason": "timeout", "timeout_seconds": timeout_s}
    assert warehouse.running() == []
    # The warehouse still answers afterwards.
    assert warehouse.run(check_read_only("SELECT 1"), {}, limit=1, timeout_s=5).rows == [(1,)]


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, DuckDBWarehouse]:
    """Its own file, with a small memory cap and little room to spill."""
    bomb_site = make_site(tmp_path_factory.mktemp("bombs"))
    return bomb_site, DuckDBWarehouse(
        str(bomb_site.db), memory_limit="256MB", threads=2, lock_wait_s=2.0, max_temp_directory_size="64MB"
    )


@pytest.mark.parametrize("bomb", BOMBS, ids=_id)
def test_resource_bomb_is_stopped_by_the_engine(
    small_warehouse: tuple[Site, DuckDBWarehouse], bomb: Attack
) -> None:
    bomb_site, engine = small_warehouse
    before = snapshot(bomb_site)[:3]
    timeout_s = 1.0
    started = time.monotonic()
    with pytest.raises(PlatformError) as info:
        engine.run(check_read_only(bomb.sql), {}, limit=10, timeout_s=timeout_s)
    elapsed = time.monotonic() - started
    assert 400 <= info.value.status < 500, info.value.message
    assert info.value.details["reason"] in {"timeout", "memory"}
    assert elapsed < 2 * timeout_s + 8, elapsed  # generous: interrupting a big allocation takes a moment
    assert snapshot(bomb_site)[:3] == before


def test_cancel_from_another_thread(warehouse: DuckDBWarehouse) -> None:
    outcome: list[BaseException | object] = []

    def work() -> None:
        try:
            outcome.append(
                warehouse.run(
                    check_read_only("SELECT count(*) FROM range(1000000) a, range(1000000) b"),
                    {},
                    limit=10,
                    timeout_s=60,
                    run_id="q-cancel",
                )
            )
        except BaseException as e:  # handed to the test thread
            outcome.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 10
    while "q-cancel" not in warehouse.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    started = time.monotonic()
    assert warehouse.cancel("q-cancel") is True
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert len(outcome) == 1 and isinstance(outcome[0], QueryCancelledError)
    assert outcome[0].details == {"reason": "cancelled"}
    assert warehouse.running() == []
    assert warehouse.cancel("q-cancel") is False
    assert warehouse.cancel() is False


def test_cancel_all_stops_every_running_query(warehouse: DuckDBWarehouse) -> None:
    errors: list[BaseException] = []

    def work(run_id: str) -> None:
        try:
            warehouse.run(
                check_read_only("SELECT count(*) FROM range(1000000) a, range(1000000) b"),
                {},
                limit=1,
                timeout_s=60,
                run_id=run_id,
            )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"q{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(warehouse.running()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert warehouse.cancel() is True
    for t in threads:
        t.join(timeout=30)
    assert len(errors) == 3 and all(isinstance(e, QueryCancelledError) for e in errors)


def test_a_short_timeout_is_kept_beside_a_long_running_query(warehouse: DuckDBWarehouse) -> None:
    """One watchdog serves every query: a later, shorter deadline still stops its own query."""
    errors: list[BaseException] = []
    slow = "SELECT count(*) FROM range(1000000) a, range(1000000) b"

    def work() -> None:
        try:
            warehouse.run(check_read_only(slow), {}, limit=1, timeout_s=120, run_id="q-long")
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 10
    while "q-long" not in warehouse.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(QueryTimeoutError):
        warehouse.run(check_read_only(slow), {}, limit=1, timeout_s=0.5, run_id="q-short")
    assert warehouse.running() == ["q-long"]
    assert warehouse.cancel("q-long") is True
    thread.join(timeout=30)
    assert len(errors) == 1 and isinstance(errors[0], QueryCancelledError)


def test_a_stop_before_the_query_starts_still_interrupts_it(warehouse: DuckDBWarehouse) -> None:
    """A cancel that lands before the engine starts is repeated until the query stops."""
    connection = warehouse.connect_read_only()
    try:
        execution = _Execution(connection, timeout_s=120)
        assert execution.stop("cancelled") is True
        execution.start()
        try:
            with pytest.raises(duckdb.InterruptException):
                connection.execute("SELECT count(*) FROM range(1000000) a, range(1000000) b").fetchall()
        finally:
            execution.finish()
        assert execution.reason == "cancelled"
        assert execution.stop("cancelled") is False  # finished: nothing left to stop
    finally:
        connection.close()


def test_queries_share_one_watchdog_thread(warehouse: DuckDBWarehouse) -> None:
    def watchdogs() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "duckdb-query-watchdog")

    threads = [
        threading.Thread(
            target=lambda: [
                warehouse.run(check_read_only("SELECT 42"), {}, limit=1, timeout_s=30) for _ in range(20)
            ]
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert watchdogs() <= 1


def test_a_run_id_cannot_run_twice_at_once(warehouse: DuckDBWarehouse) -> None:
    started = threading.Event()
    errors: list[BaseException] = []

    def long_run() -> None:
        started.set()
        try:
            warehouse.run(
                check_read_only("SELECT count(*) FROM range(1000000) a, range(1000000) b"),
                {},
                limit=1,
                timeout_s=60,
                run_id="same",
            )
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=long_run)
    thread.start()
    started.wait()
    deadline = time.monotonic() + 10
    while "same" not in warehouse.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(PlatformError) as info:
        warehouse.run(check_read_only("SELECT 1"), {}, limit=1, timeout_s=5, run_id="same")
    assert info.value.status == 409
    warehouse.cancel("same")
    thread.join(timeout=30)


def test_concurrent_runs_share_the_engine(warehouse: DuckDBWarehouse) -> None:
    results: list[object] = []

    def work(i: int) -> None:
        try:
            result = warehouse.run(
                check_read_only("SELECT count(*) FROM gold.fact_orders WHERE customer_id % 8 = :i"),
                {"i": i},
                limit=1,
                timeout_s=30,
            )
            results.append(result.rows[0][0])
        except BaseException as e:
            results.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r for r in results if isinstance(r, int)) == ORDERS, results


def test_engine_errors_are_400s(warehouse: DuckDBWarehouse) -> None:
    for sql in [
        "SELECT * FROM gold.no_such_table",
        "SELECT 'abc'::INTEGER",
        "SELECT no_such_column FROM bronze.raw",
    ]:
        with pytest.raises(ValidationError):
            warehouse.run(check_read_only(sql), {}, limit=1, timeout_s=5)


def test_a_query_checked_for_another_dialect_is_refused(warehouse: DuckDBWarehouse) -> None:
    with pytest.raises(ValidationError, match="postgres"):
        warehouse.run(check_read_only("SELECT 1", "postgres"), {}, limit=1, timeout_s=5)


# -- Arrow ----------------------------------------------------------------------------------------


def test_arrow_result_without_python_rows(warehouse: DuckDBWarehouse) -> None:
    pa = pytest.importorskip("pyarrow")
    result = warehouse.run_arrow(
        check_read_only("SELECT order_id, region FROM gold.fact_orders WHERE region = :r ORDER BY order_id"),
        {"r": "EU"},
        limit=100,
        timeout_s=10,
    )
    assert isinstance(result.rows, pa.Table) and result.is_arrow
    assert result.rows.num_rows == result.rows_returned == 100 and result.truncated
    assert result.columns == ["order_id", "region"]
    assert result.rows.column("order_id").to_pylist()[:3] == [0, 3, 6]


#: Every plain type the small-result path builds Arrow for itself, with a NULL beside each value.
PLAIN_VALUES = (
    "true, 1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 5::UTINYINT, 6::USMALLINT, 7::UINTEGER, "
    "18446744073709551615::UBIGINT, 1.5::FLOAT, 2.25::DOUBLE, 'héllo', '\\x00\\xff'::BLOB, "
    "DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.123456', 12.345::DECIMAL(18,3), "
    "-1.5::DECIMAL(4,1), 123456789012345678901234567.89::DECIMAL(38,2)"
)


@pytest.mark.parametrize("rows", [0, 1, 3, 64, 65, 200])
def test_small_results_are_typed_as_duckdbs_own_arrow_export(warehouse: DuckDBWarehouse, rows: int) -> None:
    """Up to 64 rows of plain types are put into Arrow from Python values (DuckDB's export has a
    fixed cost of ~0.3 ms); the table must be the one DuckDB itself exports, NULLs included, and a
    longer result must carry on from the same run."""
    pa = pytest.importorskip("pyarrow")
    sql = (
        f"SELECT range AS i, CASE WHEN range % 2 = 0 THEN COLUMNS(*) END FROM range({rows}), "
        f"(SELECT {PLAIN_VALUES}) ORDER BY i"
    )
    result = warehouse.run_arrow(check_read_only(sql), {}, limit=1000, timeout_s=10)
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        expected = con.sql(sql).to_arrow_table()
    assert isinstance(result.rows, pa.Table)
    assert result.rows.schema == expected.schema
    assert result.rows.equals(expected)
    assert result.rows_returned == rows and not result.truncated


@pytest.mark.parametrize(("total", "limit"), [(10, 3), (64, 64), (65, 64), (100, 64), (100, 65), (300, 250)])
def test_small_limits_truncate_where_they_should(warehouse: DuckDBWarehouse, total: int, limit: int) -> None:
    pa = pytest.importorskip("pyarrow")
    sql = f"SELECT range AS n, 'r' || range AS s FROM range({total}) ORDER BY n"
    result = warehouse.run_arrow(check_read_only(sql), {}, limit=limit, timeout_s=10)
    assert isinstance(result.rows, pa.Table)
    assert result.rows.column("n").to_pylist() == list(range(min(total, limit)))
    assert result.truncated == (total > limit)


def test_small_results_of_other_types_come_from_duckdbs_export(warehouse: DuckDBWarehouse) -> None:
    """Lists, intervals, time zones and the like are not put together by hand: DuckDB exports them,
    from the same run."""
    pa = pytest.importorskip("pyarrow")
    sql = "SELECT [1, 2] AS l, INTERVAL 1 DAY AS i, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS z, NULL AS x"
    result = warehouse.run_arrow(check_read_only(sql), {}, limit=10, timeout_s=10)
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        expected = con.sql(sql).to_arrow_table()
    assert isinstance(result.rows, pa.Table) and result.rows.equals(expected)


def test_arrow_without_pyarrow_says_so(warehouse: DuckDBWarehouse) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed")
    with pytest.raises(ServerError, match="pyarrow"):
        warehouse.run_arrow(check_read_only("SELECT 1"), {}, limit=1, timeout_s=5)


# -- the lock -------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])          # read-write: holds DuckDB's file lock
    print("locked", flush=True)
    if sys.argv[2] == "stdin":
        sys.stdin.read()                       # until the test closes our stdin
    else:
        time.sleep(float(sys.argv[2]))
    con.close()
    """
)


@pytest.fixture
def lock_site(tmp_path: Path, site: Site) -> Site:
    """A copy of the warehouse, so a writer cannot touch the file the other tests compare."""
    folder = tmp_path / "locked"
    folder.mkdir()
    shutil.copy(site.db, folder / "warehouse.duckdb")
    return Site(folder=folder, db=folder / "warehouse.duckdb", secret=site.secret, out=site.out)


@pytest.fixture
def writer(lock_site: Site) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(lock_site.db), "stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_held_write_lock_is_a_503_after_the_wait(lock_site: Site, writer: subprocess.Popen[str]) -> None:
    warehouse = DuckDBWarehouse(str(lock_site.db), lock_wait_s=1.0)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as info:
        warehouse.connect_read_only()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.0 + 5, elapsed
    assert info.value.message == "The warehouse is busy (a writer holds it); try again"
    assert info.value.status == 503 and info.value.headers == {"Retry-After": "1"}
    with pytest.raises(ServiceUnavailableError):
        warehouse.run(check_read_only("SELECT 1"), {}, limit=1, timeout_s=5)

    assert writer.stdin is not None
    writer.stdin.close()  # the writer finishes and closes its connection
    writer.wait(timeout=30)
    with warehouse.connect_read_only() as con:
        assert con.execute("SELECT count(*) FROM gold.fact_orders").fetchone() == (ORDERS,)


def test_a_reader_waits_for_a_short_write(lock_site: Site) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(lock_site.db), "1.0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        warehouse = DuckDBWarehouse(str(lock_site.db), lock_wait_s=20.0)
        started = time.monotonic()
        result = warehouse.run(check_read_only("SELECT count(*) FROM bronze.raw"), {}, limit=1, timeout_s=10)
        assert result.rows == [(100,)]
        assert time.monotonic() - started < 20
    finally:
        proc.wait(timeout=30)


def test_runs_leave_the_file_free_for_a_writer(lock_site: Site) -> None:
    warehouse = DuckDBWarehouse(str(lock_site.db))
    for _ in range(3):
        warehouse.run(check_read_only("SELECT count(*) FROM gold.fact_orders"), {}, limit=1, timeout_s=10)
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(lock_site.db), "0"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "locked"


def test_a_missing_warehouse_is_a_503(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailableError, match="no data yet"):
        DuckDBWarehouse(str(tmp_path / "nothing.duckdb")).connect_read_only()
    assert not os.path.exists(tmp_path / "nothing.duckdb")
