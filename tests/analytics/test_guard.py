"""The read-only guard: every hostile statement refused with a clear 400, every ordinary read accepted.

Resource bombs are reads the parser cannot tell from honest ones; here they must pass, and
test_duckdb_engine proves the engine stops them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest

from airflow_platform.analytics.guard import (
    DENIED_FUNCTION_PREFIXES,
    DENIED_FUNCTIONS,
    ReadOnlyQuery,
    check_read_only,
)
from airflow_platform.exceptions import ValidationError
from tests.analytics.attack_corpus import ATTACKS, LEGITIMATE, PARSER_DIFFERENTIALS, Attack, Legit

PATHS = {
    "__SECRET__": "/srv/warehouse/secret.csv",
    "__OUT__": "/srv/out",
    "__DB__": "/srv/warehouse/w.duckdb",
}


def concrete(sql: str) -> str:
    for token, value in PATHS.items():
        sql = sql.replace(token, value)
    return sql


GUARD_CASES = [a for a in ATTACKS if a.stage == "guard"]
ENGINE_CASES = [a for a in ATTACKS if a.stage == "engine"]


def _id(attack: Attack) -> str:
    return f"{attack.dialect}:{attack.category}:{attack.label}"


def test_corpus_is_large_and_varied() -> None:
    categories = Counter(a.category for a in ATTACKS)
    assert len(ATTACKS) >= 200
    assert len(categories) >= 20
    assert len(LEGITIMATE) >= 30
    assert len({(a.dialect, a.sql) for a in ATTACKS}) == len(ATTACKS), "duplicate attack texts"


@pytest.mark.parametrize("attack", GUARD_CASES, ids=_id)
def test_attack_is_refused_with_a_clear_400(attack: Attack) -> None:
    with pytest.raises(ValidationError) as info:
        check_read_only(concrete(attack.sql), attack.dialect)
    error = info.value
    assert 400 <= error.status < 500
    assert error.code == "VALIDATION_ERROR"
    assert error.message and "\x1b" not in error.message  # no terminal colours from the parser
    assert error.details.get("reason")


@pytest.mark.parametrize("attack", ENGINE_CASES, ids=_id)
def test_resource_bombs_are_reads_the_parser_cannot_refuse(attack: Attack) -> None:
    """They pass here on purpose: the engine's timeout and memory limit stop them."""
    assert check_read_only(attack.sql, attack.dialect).kind == "select"


@pytest.mark.parametrize("attack", PARSER_DIFFERENTIALS, ids=_id)
def test_parser_differentials_normalise_to_one_harmless_select(attack: Attack) -> None:
    """Whatever sqlglot made of the text, DuckDB's own parser sees one SELECT in what runs."""
    try:
        query = check_read_only(attack.sql)
    except ValidationError:
        return
    statements = duckdb.connect().extract_statements(query.normalized)
    assert [s.type.name for s in statements] == ["SELECT"]


@pytest.mark.parametrize("legit", LEGITIMATE, ids=lambda case: case.label)
def test_legitimate_read_is_accepted(legit: Legit) -> None:
    query = check_read_only(legit.sql)
    assert query.kind in {"select", "explain", "describe", "show"}
    assert set(query.parameters) <= set(legit.parameters)
    assert len(duckdb.connect().extract_statements(query.normalized)) == 1


# -- what the refusals say ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("COPY gold.t TO '/tmp/x.csv'", "COPY is not allowed: queries are read-only"),
        ("copy gold.t to '/tmp/x.csv'", "COPY is not allowed: queries are read-only"),
        ("EXPORT DATABASE '/tmp/x'", "EXPORT DATABASE is not allowed: queries are read-only"),
        ("ATTACH 'x.db' AS x", "ATTACH is not allowed: queries are read-only"),
        ("INSTALL httpfs", "INSTALL is not allowed: queries are read-only"),
        ("LOAD httpfs", "LOAD is not allowed: queries are read-only"),
        ("SET threads = 1", "SET is not allowed: queries are read-only"),
        ("PRAGMA version", "PRAGMA is not allowed: queries are read-only"),
        ("CALL pragma_version()", "CALL is not allowed: queries are read-only"),
        ("BEGIN", "BEGIN is not allowed: queries are read-only"),
        ("DROP TABLE gold.t", "DROP is not allowed: queries are read-only"),
        (
            "WITH x AS (DELETE FROM gold.t RETURNING *) SELECT * FROM x",
            "DELETE is not allowed anywhere in a query: queries are read-only",
        ),
        ("SELECT * INTO t2 FROM gold.t", "SELECT ... INTO is not allowed anywhere in a query"),
        ("SELECT 1; DROP TABLE gold.t", "Only one statement is allowed per query; found 2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Function read_csv() is not allowed"),
        ("SELECT current_setting('threads')", "Function current_setting() is not allowed"),
        ("SELECT * FROM '/etc/passwd'", "Table reference '/etc/passwd' looks like a file path or URL"),
        ("SELECT * FROM test_all_types()", "Table function test_all_types() is not allowed"),
        ("SELECT * FROM gold.t WHERE id = ?", "Positional parameters (?, $1) are not allowed"),
        ("SELEC 1", "The query could not be parsed as DuckDB SQL"),
        ("SUMMARIZE gold.t", "SUMMARIZE is not accepted"),
    ],
)
def test_refusal_names_what_was_refused(sql: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_read_only(sql)
    assert message in info.value.message


def test_refusal_details_are_machine_readable() -> None:
    with pytest.raises(ValidationError) as info:
        check_read_only("SELECT * FROM read_text('/etc/passwd')")
    assert info.value.details == {"reason": "function", "function": "read_text"}
    with pytest.raises(ValidationError) as info:
        check_read_only("SELECT 1; SELECT 2; SELECT 3")
    assert info.value.details == {"reason": "multiple_statements", "statements": 3}


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValidationError, match="Unknown SQL dialect"):
        check_read_only("SELECT 1", "no-such-dialect")


def test_each_dialect_has_its_own_deny_list() -> None:
    check_read_only("SELECT pg_read_file('/etc/passwd')")  # not a DuckDB function: DuckDB fails it
    with pytest.raises(ValidationError):
        check_read_only("SELECT pg_read_file('/etc/passwd')", "postgres")
    with pytest.raises(ValidationError, match="load_file"):
        check_read_only("SELECT load_file('/etc/passwd')", "mysql")
    with pytest.raises(ValidationError, match="load_extension"):
        check_read_only("SELECT load_extension('/tmp/x.so')", "sqlite")
    # A dialect without a list of its own gets every list.
    with pytest.raises(ValidationError, match="pg_read_file"):
        check_read_only("SELECT pg_read_file('/etc/passwd')", "trino")
    assert "read_" in DENIED_FUNCTION_PREFIXES["duckdb"]
    assert (
        "current_setting" in DENIED_FUNCTIONS["duckdb"] and "current_setting" in DENIED_FUNCTIONS["postgres"]
    )


# -- tables and schemas -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "tables", "schemas"),
    [
        ("SELECT * FROM gold.dim_customer", ("gold.dim_customer",), ("gold",)),
        (
            "SELECT * FROM gold.fact_orders o JOIN silver.events e ON o.customer_id = e.customer_id",
            ("gold.fact_orders", "silver.events"),
            ("gold", "silver"),
        ),
        ("SELECT * FROM GOLD.Fact_Orders", ("gold.fact_orders",), ("gold",)),
        ('SELECT * FROM "gold"."fact_orders"', ("gold.fact_orders",), ("gold",)),
        ("WITH x AS (SELECT * FROM bronze.raw) SELECT * FROM x", ("bronze.raw",), ("bronze",)),
        (
            "WITH a AS (SELECT 1), b AS (SELECT * FROM a JOIN gold.t ON true) SELECT * FROM b",
            ("gold.t",),
            ("gold",),
        ),
        ("SELECT (SELECT max(x) FROM silver.s) FROM gold.t", ("gold.t", "silver.s"), ("gold", "silver")),
        ("SELECT 1 FROM gold.t UNION SELECT 2 FROM gold.t", ("gold.t",), ("gold",)),
        ("SELECT * FROM t", ("t",), ()),
        ("SELECT * FROM w.gold.t", ("w.gold.t",), ("gold",)),
        ("SELECT 1", (), ()),
        ("DESCRIBE gold.t", ("gold.t",), ("gold",)),
        ("EXPLAIN SELECT * FROM silver.s", ("silver.s",), ("silver",)),
    ],
)
def test_tables_and_schemas_are_extracted(
    sql: str, tables: tuple[str, ...], schemas: tuple[str, ...]
) -> None:
    query = check_read_only(sql)
    assert query.tables == tables
    assert query.schemas == schemas


def test_default_schema_qualifies_unqualified_tables() -> None:
    query = check_read_only("SELECT * FROM dim_customer", default_schema="gold")
    assert query.tables == ("gold.dim_customer",)
    assert query.schemas == ("gold",)


def test_postgres_keeps_the_case_of_quoted_names() -> None:
    query = check_read_only('SELECT * FROM "Gold"."Orders" JOIN gold.x ON true', "postgres")
    assert query.tables == ("Gold.Orders", "gold.x")


def test_allowed_schemas_accepts_a_tenants_tables() -> None:
    query = check_read_only(
        "WITH c AS (SELECT * FROM gold.dim_customer) SELECT * FROM c JOIN silver.events USING (customer_id)",
        allowed_schemas={"gold", "silver"},
    )
    assert query.tables == ("gold.dim_customer", "silver.events")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM bronze.raw", "Schema bronze is not readable"),
        ("SELECT * FROM gold.t JOIN bronze.raw ON true", "Schema bronze is not readable"),
        ("SELECT * FROM gold.t WHERE id IN (SELECT id FROM bronze.raw)", "Schema bronze is not readable"),
        ("SELECT * FROM dim_customer", "must be schema-qualified"),
        ("SELECT * FROM w.gold.t", "names a database"),
        ("SELECT * FROM information_schema.tables", "Schema information_schema is not readable"),
        ("SELECT * FROM pg_catalog.pg_class", "Schema pg_catalog is not readable"),
        ("SHOW ALL TABLES", "SHOW TABLES is not allowed"),
        ("DESCRIBE bronze.raw", "Schema bronze is not readable"),
        # A non-recursive CTE cannot see itself: the inner name is the real table.
        ("WITH raw AS (SELECT * FROM raw) SELECT * FROM raw", "must be schema-qualified"),
        # A CTE is only visible inside the query that defines it.
        ("SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) AS x, t", "must be schema-qualified"),
        # A later CTE's name does not cover an earlier CTE's table.
        ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "must be schema-qualified"),
    ],
)
def test_allowed_schemas_refuses_everything_else(sql: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_read_only(sql, allowed_schemas={"gold", "silver"})


def test_recursive_cte_may_name_itself() -> None:
    query = check_read_only(
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        allowed_schemas={"gold"},
    )
    assert query.tables == ()


def test_allowed_schemas_with_a_default_schema() -> None:
    assert check_read_only("SELECT * FROM t", allowed_schemas={"gold"}, default_schema="gold").tables == (
        "gold.t",
    )
    with pytest.raises(ValidationError, match="Schema main is not readable"):
        check_read_only("SELECT * FROM t", allowed_schemas={"gold"}, default_schema="main")


# -- parameters ----------------------------------------------------------------------------------


def test_named_parameters_are_found_and_rendered_for_duckdb() -> None:
    query = check_read_only(
        "SELECT :label AS l FROM gold.t WHERE d >= :start_date AND d < :end_date AND x = :start_date LIMIT :n"
    )
    assert query.parameters == ("end_date", "label", "n", "start_date")
    assert ":" not in query.normalized
    assert "$start_date" in query.normalized and "$label" in query.normalized


def test_dollar_parameters_are_duckdbs_own_spelling() -> None:
    assert check_read_only("SELECT $a, :b").parameters == ("a", "b")


def test_postgres_parameters_render_for_psycopg() -> None:
    query = check_read_only("SELECT * FROM t WHERE d >= :start_date", "postgres")
    assert query.parameters == ("start_date",)
    assert "%(start_date)s" in query.normalized


@pytest.mark.parametrize(
    ("sql", "parameters"),
    [
        ("SELECT ':not_a_param' AS s", ()),
        ("SELECT x::INT FROM t", ()),
        ("SELECT arr[1:n] FROM t", ()),
        ("SELECT arr[:n] FROM t", ("n",)),
        ("SELECT {'k': :v}", ("v",)),
        ("SELECT total: 1", ()),
        ("SELECT :start_date::DATE", ("start_date",)),
        ("SELECT 1 -- :commented", ()),
    ],
)
def test_what_is_and_is_not_a_parameter(sql: str, parameters: tuple[str, ...]) -> None:
    assert check_read_only(sql).parameters == parameters


# -- normalisation -------------------------------------------------------------------------------


def test_normalised_text_ignores_layout_comments_and_keyword_case() -> None:
    a = check_read_only("select region, count(*) from gold.t group by region")
    b = check_read_only("SELECT region,\n  COUNT(*) -- per region\nFROM gold.t /* all */ GROUP BY region;")
    assert a.normalized == b.normalized
    assert b.sql == "SELECT region,\n  COUNT(*) -- per region\nFROM gold.t /* all */ GROUP BY region"


@pytest.mark.parametrize(
    "sql",
    [
        "/* report */ SELECT :a AS a FROM gold.t WHERE b = :b",
        "-- report\nSELECT :a AS a FROM gold.t WHERE b = :b",
        "\n\t  SELECT :a AS a FROM gold.t WHERE b = :b -- trailing",
        "SELECT :a AS a FROM gold.t WHERE b = :b; -- trailing",
    ],
)
def test_comments_around_a_parameterised_query(sql: str) -> None:
    query = check_read_only(sql)
    assert query.parameters == ("a", "b")
    assert query.normalized == "SELECT $a AS a FROM gold.t WHERE b = $b"
    assert "trailing" not in query.sql and not query.sql.endswith(";")


def test_explain_keeps_its_prefix() -> None:
    assert check_read_only("explain analyze select 1").normalized == "EXPLAIN ANALYZE SELECT 1"
    assert check_read_only("EXPLAIN SELECT :x").parameters == ("x",)
    assert check_read_only("/* why */ EXPLAIN SELECT :x").normalized == "EXPLAIN SELECT $x"


def test_result_is_frozen() -> None:
    query = check_read_only("SELECT 1")
    assert isinstance(query, ReadOnlyQuery)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.sql = "DROP TABLE x"  # type: ignore[misc]


def test_a_long_but_allowed_query_is_checked() -> None:
    sql = "SELECT * FROM gold.t WHERE " + " OR ".join(f"a = {i}" for i in range(2000))
    assert check_read_only(sql).tables == ("gold.t",)
    with pytest.raises(ValidationError, match="longer than 50 characters"):
        check_read_only(sql, max_length=50)


def test_checks_from_many_threads_agree_with_one_thread() -> None:
    """The guard holds no shared parser state: a web server may call it from every worker thread."""
    texts = [concrete(a.sql) for a in ATTACKS if a.dialect == "duckdb"] + [case.sql for case in LEGITIMATE]

    def outcome(sql: str) -> str:
        try:
            return check_read_only(sql).normalized
        except ValidationError as e:
            return "refused: " + e.message

    expected = [outcome(sql) for sql in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(outcome, texts * 3)) == expected * 3
