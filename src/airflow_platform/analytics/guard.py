"""The read-only statement check for analytics queries.

`check_read_only` parses a caller's SQL with sqlglot, in the dialect of the engine that will run it,
and accepts exactly one read: a SELECT (with CTEs, set operations, VALUES), an EXPLAIN of one, or
(DuckDB) a DESCRIBE / SHOW TABLES. Everything else is refused with a `ValidationError` that names
what was refused: stacked statements, writes anywhere in the tree (also a DELETE hidden in a CTE),
DDL, COPY, ATTACH, INSTALL/LOAD, SET/RESET/PRAGMA, CALL, transactions, `SELECT ... INTO`, row locks,
functions that reach files, the network, the OS or the server's settings, and table references
that are file paths or URLs. SQL that sqlglot cannot parse is refused too: the check fails closed.

This is defence in depth, not the boundary. Superset walked the sqlglot tree the same way and was
still bypassed (CVE-2026-23984): a parser is not the engine, and a deny-list cannot know every
function an engine or its extensions will ever have. So the engine must be read-only on its own
(for DuckDB: `DuckDBWarehouse` opens the file `read_only=True` with external access off,
extensions off and the configuration locked); this check gives early, clear refusals, the list of
tables a query reads (for tenant schemas and `metadata.tables_accessed`), and a normalised text.

Two choices narrow the gap between this parser and the engine:
* the engine runs `ReadOnlyQuery.normalized`, the SQL sqlglot regenerates from the tree that was
  checked (comments dropped), never the caller's text; so what was checked is what runs;
* the regenerated text is tokenized once more and scanned for a `;` and for denied function
  names, so a name that the generator spells differently from the parser is still caught.

Parameters are named `:name` placeholders (the API reference's form); DuckDB's own `$name` is
accepted as the same thing. Positional `?` / `$1` and session variables are refused, because values
are bound by name by the engine and never pasted into the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError, UnsupportedError
from sqlglot.tokens import Token, TokenType

from airflow_platform.exceptions import ValidationError

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "DENIED_FUNCTIONS",
    "DENIED_FUNCTION_PREFIXES",
    "DENIED_TABLES",
    "MAX_QUERY_LENGTH",
    "ReadOnlyQuery",
    "check_read_only",
    "function_is_denied",
    "looks_like_path",
    "table_function_is_allowed",
    "table_is_denied",
]

#: Longer texts are refused before parsing: a parser is not a place to spend unbounded CPU.
MAX_QUERY_LENGTH = 100_000

_READ_ONLY = "queries are read-only"

# --------------------------------------------------------------------------------------------
# Deny-lists. Names are lower case; a function is refused when its name is listed or starts with
# one of the prefixes. They are per dialect because each engine reaches the outside differently.
# --------------------------------------------------------------------------------------------

#: Reaches files, the network, other databases, the environment or the settings, or runs SQL
#: given as a string (which would escape the table check), in DuckDB and its usual extensions.
_DUCKDB_FUNCTIONS = frozenset(
    {
        # files and object stores (read_csv*, read_json*, read_parquet... are caught by "read_")
        "glob",
        "sniff_csv",
        "csv_scan",
        "json_scan",
        "parquet_scan",
        "scan_arrow_ipc",
        "arrow_scan",
        "arrow_scan_dumb",
        "pandas_scan",
        "python_map_function",
        "delta_scan",
        "iceberg_scan",
        "st_drivers",
        "load_aws_credentials",
        "which_secret",
        # SQL from a string, or a table by a string name: bypasses the statement and table checks
        "query",
        "query_table",
        "json_execute_serialized_sql",
        "from_substrait",
        "from_substrait_json",
        # the environment and the settings (paths, limits, secrets directory)
        "getenv",
        "current_setting",
        # this build's resource and grammar hooks, and its logger
        "add_grammar_extension",
        "remove_grammar_extension",
        "create_external_resource",
        "register_external_resource",
        "register_external_resource_type",
        "deregister_external_resource",
        "destroy_external_resource",
        "write_log",
        # state changes and housekeeping
        "nextval",
        "setval",
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "enable_profiling",
        "disable_profiling",
    }
)
_DUCKDB_PREFIXES = (
    "read_",  # read_csv(_auto), read_json*, read_ndjson*, read_parquet, read_text, read_blob, read_duckdb
    "parquet_",  # parquet_scan, parquet_metadata, parquet_schema, parquet_kv_metadata, ...
    "duckdb_",  # duckdb_settings, duckdb_databases (file paths), duckdb_secrets, duckdb_extensions, ...
    "pragma_",  # pragma_table_info('schema.t') names a table by string, past the schema check
    "sqlite_",  # sqlite_scan, sqlite_attach
    "postgres_",  # postgres_scan, postgres_query, postgres_execute, postgres_attach
    "mysql_",  # mysql_query, mysql_execute
    "iceberg_",
    "delta_",
    "ducklake_",
    "azure_",
    "http_",  # community http_client: http_get, http_post
    "st_read",  # spatial: st_read, st_read_meta, st_readosm, st_readshp
    "python_",  # python_map_function, python_arrow_scan: objects of the server process
)

#: PostgreSQL: server files, large objects, other servers, settings, sleeping, signalling,
#: replication/backup control, advisory locks, and the functions that run a query given as text.
_POSTGRES_FUNCTIONS = frozenset(
    {
        "pg_stat_file",
        "pg_current_logfile",
        "pg_logdir_ls",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_file_sync",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_switch_xlog",
        "pg_create_restore_point",
        "pg_notify",
        "pg_logical_emit_message",
        "pg_drop_replication_slot",
        "pg_promote",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_export_snapshot",
        "pg_import_system_collations",
        "pg_log_backend_memory_contexts",
        "pg_get_backend_memory_contexts",
        "set_config",
        "current_setting",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "table_to_xml",
        "table_to_xmlschema",
        "table_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "schema_to_xml",
        "schema_to_xmlschema",
        "schema_to_xml_and_xmlschema",
        "database_to_xml",
        "database_to_xmlschema",
        "database_to_xml_and_xmlschema",
        "ts_stat",
        "ts_rewrite",
        "nextval",
        "setval",
        "txid_current",
        "pg_current_xact_id",
        "loread",
        "lowrite",
        "inet_server_addr",
        "inet_server_port",
        "inet_client_addr",
        "inet_client_port",
    }
)
_POSTGRES_PREFIXES = (
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, pg_ls_archive_statusdir
    "pg_sleep",  # pg_sleep, pg_sleep_for, pg_sleep_until
    "pg_advisory",
    "pg_try_advisory",
    "pg_create_",  # replication slots
    "pg_replication_",
    "pg_wal_replay_",
    "pg_stat_reset",
    "lo_",  # lo_import, lo_export, lo_get, lo_put, lo_open, lo_create, lo_unlink, lo_from_bytea
    "dblink",  # dblink, dblink_exec, dblink_connect, ...
)

#: MySQL and SQLite, for connections of those kinds.
_MYSQL_FUNCTIONS = frozenset({"load_file", "sleep", "benchmark", "get_lock", "release_lock", "sys_exec"})
_SQLITE_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})

DENIED_FUNCTIONS: dict[str, frozenset[str]] = {
    "duckdb": _DUCKDB_FUNCTIONS,
    "postgres": _POSTGRES_FUNCTIONS,
    "mysql": _MYSQL_FUNCTIONS,
    "sqlite": _SQLITE_FUNCTIONS,
}
DENIED_FUNCTION_PREFIXES: dict[str, tuple[str, ...]] = {
    "duckdb": _DUCKDB_PREFIXES,
    "postgres": _POSTGRES_PREFIXES,
    "mysql": (),
    "sqlite": (),
}

#: Tables and views that show settings, file paths or other sessions, refused by name.
DENIED_TABLES: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"pg_settings"}),
    "postgres": frozenset(
        {
            "pg_settings",
            "pg_file_settings",
            "pg_hba_file_rules",
            "pg_ident_file_mappings",
            "pg_config",
            "pg_shadow",
            "pg_authid",
            "pg_user_mappings",
            "pg_stat_activity",
            "pg_largeobject",
            "pg_largeobject_metadata",
        }
    ),
}
_DENIED_TABLE_PREFIXES: dict[str, tuple[str, ...]] = {"duckdb": ("duckdb_", "pragma_", "sqlite_")}

#: Table functions that may appear in FROM. Every other table function is refused: most of the
#: dangerous ones (file readers, scanners of other databases) are table functions.
ALLOWED_TABLE_FUNCTIONS: dict[str, frozenset[str]] = {
    "duckdb": frozenset(
        {"range", "generate_series", "unnest", "generate_subscripts", "json_each", "json_tree"}
    ),
    "postgres": frozenset(
        {
            "generate_series",
            "generate_subscripts",
            "unnest",
            "json_each",
            "json_each_text",
            "jsonb_each",
            "jsonb_each_text",
            "json_array_elements",
            "json_array_elements_text",
            "jsonb_array_elements",
            "jsonb_array_elements_text",
            "json_to_record",
            "json_to_recordset",
            "jsonb_to_record",
            "jsonb_to_recordset",
            "regexp_matches",
            "regexp_split_to_table",
            "string_to_table",
        }
    ),
}


def _union(lists: Iterable[frozenset[str]]) -> frozenset[str]:
    return frozenset().union(*lists)


#: An engine we have no list for gets every list: refusing too much is the safe side.
_ALL_DENIED_FUNCTIONS = _union(DENIED_FUNCTIONS.values())
_ALL_DENIED_PREFIXES = tuple(p for ps in DENIED_FUNCTION_PREFIXES.values() for p in ps)
_ALL_DENIED_TABLES = _union(DENIED_TABLES.values())
_ALL_ALLOWED_TABLE_FUNCTIONS = frozenset({"generate_series", "unnest"})

# --------------------------------------------------------------------------------------------
# Statement kinds.
# --------------------------------------------------------------------------------------------


#: sqlglot 30 roots its tree in the `Expr` trait (DML, DDL and Func are traits); older versions
#: in `Expression`.
_NODE_BASE: type[exp.Expr] = getattr(exp, "Expr", None) or exp.Expression


def _classes(*names: str) -> tuple[type[exp.Expr], ...]:
    """The sqlglot classes of these names that this sqlglot version has (older ones lack some)."""
    found: list[type[exp.Expr]] = []
    for name in names:
        cls = getattr(exp, name, None)
        if isinstance(cls, type) and issubclass(cls, _NODE_BASE):
            found.append(cls)
    return tuple(found)


#: Nodes that never belong in a read, anywhere in the tree, with the word a refusal uses.
_DENIED_NODES: dict[type[exp.Expr], str] = {
    cls: word
    for names, word in (
        (("Insert",), "INSERT"),
        (("Update",), "UPDATE"),
        (("Delete",), "DELETE"),
        (("Merge",), "MERGE"),
        (("Create",), "CREATE"),
        (("Drop",), "DROP"),
        (("Alter", "AlterColumn", "AlterRename", "RenameColumn"), "ALTER"),
        (("TruncateTable",), "TRUNCATE"),
        (("Copy",), "COPY"),
        (("Attach",), "ATTACH"),
        (("Detach",), "DETACH"),
        (("Install",), "INSTALL"),
        (("LoadData",), "LOAD DATA"),
        (("Set", "SetItem"), "SET"),
        (("Pragma",), "PRAGMA"),
        (("Use",), "USE"),
        (("Transaction",), "BEGIN (transactions)"),
        (("Commit",), "COMMIT"),
        (("Rollback",), "ROLLBACK"),
        (("Into",), "SELECT ... INTO"),
        (("Lock",), "FOR UPDATE/FOR SHARE (row locks)"),
        (("Returning",), "RETURNING"),
        (("Grant",), "GRANT"),
        (("Revoke",), "REVOKE"),
        (("Kill",), "KILL"),
        (("Analyze",), "ANALYZE"),
        (("Comment",), "COMMENT"),
        (("Cache", "Uncache", "Refresh"), "CACHE/REFRESH"),
        (("Declare", "DeclareItem"), "DECLARE"),
        (("Execute", "ExecuteSql"), "EXECUTE"),
        (("Export",), "EXPORT"),
        (("Summarize",), "SUMMARIZE"),
        (("Command",), "COMMAND"),
    )
    for cls in _classes(*names)
}
_DENIED_NODE_TYPES: tuple[type[exp.Expr], ...] = (*_DENIED_NODES, *_classes("DML", "DDL"))

#: First words of statements that are refused, to name them even when sqlglot cannot parse them
#: (EXPORT DATABASE, CREATE SECRET, ...). Naming only: the tree check decides.
_DENIED_FIRST_WORDS = frozenset(
    {
        "ABORT",
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "CALL",
        "CHECKPOINT",
        "CLUSTER",
        "COMMENT",
        "COMMIT",
        "COPY",
        "CREATE",
        "DEALLOCATE",
        "DELETE",
        "DETACH",
        "DISCARD",
        "DO",
        "DROP",
        "END",
        "EXECUTE",
        "EXPORT",
        "FORCE",
        "GRANT",
        "IMPORT",
        "INSERT",
        "INSTALL",
        "LISTEN",
        "LOAD",
        "LOCK",
        "MERGE",
        "NOTIFY",
        "PRAGMA",
        "PREPARE",
        "REFRESH",
        "REINDEX",
        "RELEASE",
        "RESET",
        "REVOKE",
        "ROLLBACK",
        "SAVEPOINT",
        "SET",
        "START",
        "TRUNCATE",
        "UNLISTEN",
        "UPDATE",
        "UPSERT",
        "USE",
        "VACUUM",
    }
)
_TWO_WORD_STATEMENTS = frozenset({"EXPORT", "IMPORT", "FORCE", "START"})

#: SHOW forms that are reads of table names (DuckDB); other SHOWs print settings.
_ALLOWED_SHOW = frozenset({"TABLES", "ALL TABLES"})

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
#: A table name with one of these characters is a file path or URL to DuckDB's replacement scans.
_PATH_LIKE = re.compile(r"[./\\:~*?]")

#: Tokens after which `:name` cannot be a placeholder (it is a slice bound or an alias).
_OPERAND_END = frozenset(
    {
        TokenType.VAR,
        TokenType.NUMBER,
        TokenType.STRING,
        TokenType.IDENTIFIER,
        TokenType.R_PAREN,
        TokenType.R_BRACKET,
        TokenType.R_BRACE,
        TokenType.NULL,
        TokenType.TRUE,
        TokenType.FALSE,
    }
)

_EXPLAIN_ANALYZE = re.compile(r"ANALY[SZ]E\b", re.IGNORECASE)
#: `EXPLAIN (ANALYZE, FORMAT JSON) ...`, as opposed to `EXPLAIN (SELECT ...)`.
_EXPLAIN_OPTIONS = re.compile(r"\(\s*(?!SELECT\b|WITH\b|VALUES\b|FROM\b|\()", re.IGNORECASE)

_DISPLAY = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite"}


@dataclass(frozen=True)
class ReadOnlyQuery:
    """One statement that passed the check, with what the runner and the API need to know.

    * `sql`: the caller's statement, without surrounding blanks, a trailing `;` or trailing comment.
    * `normalized`: the statement regenerated by sqlglot from the checked tree, comments dropped,
      keywords in one case, placeholders in the engine's form (DuckDB `$name`, PostgreSQL
      `%(name)s`). It is what the engine runs and what a result cache keys on.
    * `kind`: select, explain, describe or show.
    * `tables`: the tables read, sorted, schema-qualified where the query (or `default_schema`)
      says so, lower-cased where the engine folds case; CTE names are not tables.
    * `schemas`: the schemas of those tables, sorted.
    * `parameters`: the names of the `:name` placeholders, sorted.
    """

    sql: str
    normalized: str
    dialect: str
    kind: str
    tables: tuple[str, ...]
    schemas: tuple[str, ...]
    parameters: tuple[str, ...]


def check_read_only(
    sql: str,
    dialect: str = "duckdb",
    *,
    allowed_schemas: Set[str] | None = None,
    default_schema: str | None = None,
    max_length: int = MAX_QUERY_LENGTH,
) -> ReadOnlyQuery:
    """Accept one read-only statement or raise `ValidationError` naming what was refused.

    `allowed_schemas`, when given, limits the tables to those schemas (a tenant's): a table in
    another schema, a catalog-qualified table, or an unqualified one (unless `default_schema`
    says where it lives) is refused, and SHOW TABLES is refused. `default_schema` is the schema
    the engine resolves unqualified names in; it qualifies them in `tables`.
    """
    checker = _Checker(_dialect(dialect), allowed_schemas, default_schema)
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError("The query is empty", details={"reason": "empty"})
    if len(sql) > max_length:
        raise ValidationError(
            f"The query is longer than {max_length} characters",
            details={"reason": "too_long", "max_length": max_length},
        )
    try:
        return checker.check(sql)
    except ValidationError:
        raise
    except RecursionError:
        raise ValidationError(
            "The query is nested too deeply to be checked", details={"reason": "too_deep"}
        ) from None
    except Exception as e:  # a parser crash on odd input (sqlglot has some): fail closed
        raise ValidationError(
            f"The query could not be parsed as {checker.info.display} SQL",
            details={"reason": "unparseable", "error": type(e).__name__},
        ) from None


def function_is_denied(name: str, dialect: str = "duckdb") -> bool:
    """Whether a function of this name is on the dialect's deny-list (also for an engine's own check)."""
    info = _dialect(dialect)
    name = name.lower()
    return name in info.functions or name.startswith(info.prefixes)


def table_function_is_allowed(name: str, dialect: str = "duckdb") -> bool:
    """Whether a function may be used as a table in FROM (range, unnest, ...)."""
    return name.lower() in _dialect(dialect).table_functions


def table_is_denied(name: str, dialect: str = "duckdb") -> bool:
    """Whether a table or view of this name shows settings, file paths or other sessions."""
    info = _dialect(dialect)
    name = name.lower()
    return name in info.tables or name.startswith(info.table_prefixes)


def looks_like_path(name: str) -> bool:
    """Whether a table name is a file path or URL to DuckDB's replacement scans."""
    return _PATH_LIKE.search(name) is not None


# --------------------------------------------------------------------------------------------
# Implementation.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DialectInfo:
    name: str
    display: str
    dialect: Dialect
    functions: frozenset[str]
    prefixes: tuple[str, ...]
    tables: frozenset[str]
    table_prefixes: tuple[str, ...]
    table_functions: frozenset[str]


@lru_cache(maxsize=32)
def _dialect(name: str) -> _DialectInfo:
    try:
        dialect = Dialect.get_or_raise(name)
    except (ValueError, SqlglotError):
        raise ValidationError(f"Unknown SQL dialect {name!r}", details={"reason": "dialect"}) from None
    key = type(dialect).__name__.lower()
    known = key in DENIED_FUNCTIONS
    return _DialectInfo(
        name=key,
        display=_DISPLAY.get(key, key),
        dialect=dialect,
        functions=DENIED_FUNCTIONS[key] if known else _ALL_DENIED_FUNCTIONS,
        prefixes=DENIED_FUNCTION_PREFIXES[key] if known else _ALL_DENIED_PREFIXES,
        tables=DENIED_TABLES.get(key, frozenset()) if known else _ALL_DENIED_TABLES,
        table_prefixes=_DENIED_TABLE_PREFIXES.get(key, ()),
        table_functions=ALLOWED_TABLE_FUNCTIONS.get(key, _ALL_ALLOWED_TABLE_FUNCTIONS),
    )


def _refuse(message: str, reason: str, **details: object) -> ValidationError:
    return ValidationError(message, details={"reason": reason, **details})


class _Checker:
    """One check of one text; holds the dialect and the tenant's schema rules."""

    def __init__(self, info: _DialectInfo, allowed_schemas: Set[str] | None, default_schema: str | None):
        self.info = info
        self.duckdb = info.name == "duckdb"
        self.default_schema = self._fold(default_schema, quoted=False) if default_schema else None
        self.allowed = (
            None if allowed_schemas is None else {self._fold(s, quoted=False) for s in allowed_schemas}
        )

    # -- text and tokens -----------------------------------------------------------------

    def check(self, text: str) -> ReadOnlyQuery:
        stripped = text.strip()
        tokens = self._tokenize(stripped)
        statements = _split_statements(tokens)
        if not statements:
            raise _refuse("The query is empty", "empty")
        if len(statements) > 1:
            raise _refuse(
                f"Only one statement is allowed per query; found {len(statements)} separated by ';'",
                "multiple_statements",
                statements=len(statements),
            )
        tokens = statements[0]
        # Up to the end of the one statement; from the start, so token positions stay valid.
        original = stripped[: tokens[-1].end + 1]
        self._refuse_denied_first_word(tokens)

        first = tokens[0].text.upper()
        if first == "EXPLAIN":
            return self._check_explain(original, tokens)
        if self.duckdb:
            # DuckDB's grammar reads `SELECT :a` as a prefix alias; `$a` is its own placeholder.
            body = _dollar_placeholders(original, tokens)
            if body != original:
                tokens = self._tokenize(body)
        else:
            body = original
        tree = self._parse(body, tokens)
        kind = self._check_root(tree)
        tables, schemas, parameters = self._walk(tree)
        normalized = self._generate(tree)
        return ReadOnlyQuery(
            sql=original,
            normalized=normalized,
            dialect=self.info.name,
            kind=kind,
            tables=tables,
            schemas=schemas,
            parameters=parameters,
        )

    def _tokenize(self, text: str) -> list[Token]:
        try:
            return self.info.dialect.tokenize(text)
        except TokenError as e:
            raise _refuse(
                f"The query could not be parsed as {self.info.display} SQL: {_first_line(e)}", "unparseable"
            ) from None

    def _refuse_denied_first_word(self, tokens: list[Token]) -> None:
        word = tokens[0].text.upper()
        if word not in _DENIED_FIRST_WORDS:
            return
        if word in _TWO_WORD_STATEMENTS and len(tokens) > 1 and tokens[1].text.isalpha():
            word = f"{word} {tokens[1].text.upper()}"
        raise _refuse(f"{word} is not allowed: {_READ_ONLY}", "statement", statement=word)

    def _parse(self, text: str, tokens: list[Token]) -> exp.Expr:
        try:
            trees = self.info.dialect.parser(error_level=ErrorLevel.IMMEDIATE).parse(tokens, text)
        except ParseError as e:
            raise _refuse(
                f"The query could not be parsed as {self.info.display} SQL: {_describe_parse_error(e)}",
                "unparseable",
            ) from None
        except SqlglotError as e:
            raise _refuse(
                f"The query could not be parsed as {self.info.display} SQL: {_first_line(e)}", "unparseable"
            ) from None
        found = [t for t in trees if t is not None]
        if len(found) != 1:  # the token split already counted; this is the parser agreeing
            raise _refuse("Only one statement is allowed per query", "multiple_statements")
        return found[0]

    def _check_explain(self, original: str, tokens: list[Token]) -> ReadOnlyQuery:
        """EXPLAIN [ANALYZE] <one checked read>; options in parentheses are not supported.

        sqlglot reads EXPLAIN as an opaque command, so the text after it is checked as a query of
        its own, and the EXPLAIN is put back in front of that query's normalised text.
        """
        rest = original[tokens[0].end + 1 :].strip()
        match = _EXPLAIN_ANALYZE.match(rest)
        analyze = match is not None
        if match is not None:
            rest = rest[match.end() :].strip()
        if not rest:
            raise _refuse("EXPLAIN needs a query to explain", "statement", statement="EXPLAIN")
        if _EXPLAIN_OPTIONS.match(rest):
            raise _refuse("EXPLAIN options are not supported; use EXPLAIN or EXPLAIN ANALYZE", "statement")
        inner = self.check(rest)
        if inner.kind != "select":
            raise _refuse(f"EXPLAIN of {inner.kind.upper()} is not allowed", "statement", statement="EXPLAIN")
        prefix = "EXPLAIN ANALYZE " if analyze else "EXPLAIN "
        return ReadOnlyQuery(
            sql=original,
            normalized=prefix + inner.normalized,
            dialect=inner.dialect,
            kind="explain",
            tables=inner.tables,
            schemas=inner.schemas,
            parameters=inner.parameters,
        )

    # -- the tree ------------------------------------------------------------------------

    def _check_root(self, tree: exp.Expr) -> str:
        root = tree.unnest() if isinstance(tree, exp.Subquery) else tree
        if isinstance(root, (exp.Select, exp.SetOperation, exp.Values)):
            return "select"
        if isinstance(root, exp.Describe) and self.duckdb:
            return "describe"
        if isinstance(root, exp.Show) and self.duckdb:
            what = str(root.name).upper()
            if what not in _ALLOWED_SHOW:
                raise _refuse(f"SHOW {what} is not allowed; use SHOW TABLES or DESCRIBE", "statement")
            if self.allowed is not None:
                raise _refuse(
                    "SHOW TABLES is not allowed for a query limited to schemas; use DESCRIBE schema.table",
                    "schema",
                )
            return "show"
        if isinstance(root, exp.Command):
            word = str(root.this).upper()
        else:
            word = _DENIED_NODES.get(type(root)) or type(root).__name__.upper()
        accepted = "SELECT, WITH ... SELECT, UNION, VALUES, EXPLAIN" + (
            ", DESCRIBE or SHOW TABLES" if self.duckdb else ""
        )
        raise _refuse(
            f"{word} is not accepted: {_READ_ONLY}, and a query must be one read ({accepted})",
            "statement",
            statement=word,
        )

    def _walk(self, tree: exp.Expr) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        tables: dict[str, None] = {}
        schemas: dict[str, None] = {}
        parameters: dict[str, None] = {}
        for node in tree.walk():
            if isinstance(node, _DENIED_NODE_TYPES):
                word = (
                    str(node.this).upper()
                    if isinstance(node, exp.Command)
                    else _DENIED_NODES.get(type(node)) or type(node).__name__.upper()
                )
                raise _refuse(
                    f"{word} is not allowed anywhere in a query: {_READ_ONLY}", "statement", statement=word
                )
            if isinstance(node, exp.Func):
                self._check_function(node)
                if isinstance(node.parent, (exp.From, exp.Join, exp.Lateral)):
                    self._check_table_function(node)
            if isinstance(node, exp.Table):
                self._check_table(node, tables, schemas)
            elif isinstance(node, exp.Placeholder):
                name = node.name
                if not name or not _IDENTIFIER.match(name):
                    raise _refuse(
                        "Positional parameters (?, $1) are not allowed; use named ones like :start_date",
                        "parameter",
                    )
                parameters[name] = None
            elif isinstance(node, (exp.Parameter, exp.SessionParameter)):
                raise _refuse(
                    f"{node.sql(dialect=self.info.dialect)} is not allowed; use named ones like :start_date",
                    "parameter",
                )
        return tuple(sorted(tables)), tuple(sorted(schemas)), tuple(sorted(parameters))

    def _check_function(self, node: exp.Func) -> None:
        if isinstance(node, exp.Anonymous):
            name = node.name
            if not _FUNCTION_NAME.match(name):
                raise _refuse(f"Function name {name!r} is not allowed", "function", function=name)
            names: Iterable[str] = (name,)
        else:
            names = node.sql_names() or (type(node).__name__,)
        for candidate in names:
            self._refuse_denied_function(candidate.lower())

    def _refuse_denied_function(self, name: str) -> None:
        if name in self.info.functions or name.startswith(self.info.prefixes):
            raise _refuse(
                f"Function {name}() is not allowed: queries read warehouse tables only, not files, URLs, "
                "settings, other databases or SQL given as text",
                "function",
                function=name,
            )

    def _check_table_function(self, node: exp.Func) -> None:
        """A function in FROM/JOIN must be on the short allow-list (range, unnest, ...)."""
        # The name the engine will see: the function as this dialect renders it.
        head = node.sql(dialect=self.info.dialect, comments=False).split("(", 1)[0]
        name = head.rsplit(".", 1)[-1].strip().strip('"`').lower()
        self._refuse_denied_function(name)
        if name not in self.info.table_functions:
            raise _refuse(
                f"Table function {name}() is not allowed; read warehouse tables by name",
                "table_function",
                function=name,
            )

    def _check_table(self, node: exp.Table, tables: dict[str, None], schemas: dict[str, None]) -> None:
        this = node.this
        if isinstance(this, exp.Func):
            self._check_table_function(this)
            return
        parts = [node.args.get("catalog"), node.args.get("db"), this]
        if not isinstance(this, exp.Identifier) or not all(
            p is None or isinstance(p, exp.Identifier) for p in parts
        ):
            raise _refuse(
                f"{node.sql(dialect=self.info.dialect)!r} is not a table name; read warehouse tables by name",
                "table",
            )
        idents = [p for p in parts if isinstance(p, exp.Identifier)]
        for ident in idents:
            if _PATH_LIKE.search(ident.this):
                raise _refuse(
                    f"Table reference {ident.this!r} looks like a file path or URL; "
                    "only warehouse tables can be read",
                    "table",
                    table=ident.this,
                )
        catalog, schema, name = (None if p is None else self._fold_ident(p) for p in parts)
        assert name is not None
        if catalog is None and schema is None and name in _visible_ctes(node, self):
            return  # a CTE, not a table
        if name in self.info.tables or name.startswith(self.info.table_prefixes):
            raise _refuse(
                f"Table {name} is not allowed: it shows settings, file paths or other sessions",
                "table",
                table=name,
            )
        schema = schema or (None if catalog else self.default_schema)
        if self.allowed is not None:
            if catalog is not None:
                raise _refuse(
                    f"Table {catalog}.{schema}.{name} names a database; use schema.table",
                    "schema",
                    table=f"{catalog}.{schema}.{name}",
                )
            if schema is None:
                raise _refuse(f"Table {name} must be schema-qualified (schema.{name})", "schema", table=name)
            if schema not in self.allowed:
                allowed = ", ".join(sorted(self.allowed))
                raise _refuse(
                    f"Schema {schema} is not readable by this query (allowed: {allowed})",
                    "schema",
                    schema=schema,
                )
        qualified = ".".join(p for p in (catalog, schema, name) if p)
        tables[qualified] = None
        if schema:
            schemas[schema] = None

    # -- identifiers ---------------------------------------------------------------------

    def _fold(self, text: str, *, quoted: bool) -> str:
        strategy = self.info.dialect.NORMALIZATION_STRATEGY
        if strategy == NormalizationStrategy.CASE_INSENSITIVE:
            return text.lower()
        if quoted or strategy == NormalizationStrategy.CASE_SENSITIVE:
            return text
        if strategy == NormalizationStrategy.UPPERCASE:
            return text.upper()
        return text.lower()

    def _fold_ident(self, ident: exp.Identifier) -> str:
        return self._fold(ident.this, quoted=bool(ident.args.get("quoted")))

    # -- output --------------------------------------------------------------------------

    def _generate(self, tree: exp.Expr) -> str:
        try:
            normalized = tree.sql(
                dialect=self.info.dialect, comments=False, unsupported_level=ErrorLevel.RAISE
            )
        except UnsupportedError as e:
            raise _refuse(
                f"The query uses syntax that cannot be checked: {_first_line(e)}", "unsupported"
            ) from None
        self._scan_output(normalized)
        return normalized

    def _scan_output(self, normalized: str) -> None:
        """The regenerated text, tokenized again: one statement, no denied function by any spelling."""
        tokens = self._tokenize(normalized)
        for i, token in enumerate(tokens):
            if token.token_type == TokenType.SEMICOLON:
                raise _refuse("Only one statement is allowed per query", "multiple_statements")
            if (
                i + 1 < len(tokens)
                and tokens[i + 1].token_type == TokenType.L_PAREN
                and token.token_type not in (TokenType.STRING, TokenType.NUMBER)
            ):
                self._refuse_denied_function(token.text.lower())


def _visible_ctes(table: exp.Table, checker: _Checker) -> set[str]:
    """CTE names a table reference can mean, by SQL's scoping: the WITH clauses around it.

    Inside a CTE's own body only the CTEs before it are visible (and itself when RECURSIVE);
    treating fewer names as CTEs is the safe side, as the rest are checked as tables.
    """
    names: set[str] = set()
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = node.expressions
            if isinstance(child, exp.CTE) and child in ctes:
                index = next(i for i, c in enumerate(ctes) if c is child)
                visible = ctes[: index + 1] if node.args.get("recursive") else ctes[:index]
                names.update(checker._fold(c.alias, quoted=False) for c in visible)
        else:
            with_ = node.args.get("with_") or node.args.get("with")
            if isinstance(with_, exp.With) and child is not with_:
                names.update(checker._fold(c.alias, quoted=False) for c in with_.expressions)
        child, node = node, node.parent
    return names


def _split_statements(tokens: list[Token]) -> list[list[Token]]:
    statements: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(current)
            current = []
        else:
            current.append(token)
    if current:
        statements.append(current)
    return statements


def _dollar_placeholders(text: str, tokens: list[Token]) -> str:
    """`:name` written where a value goes becomes DuckDB's `$name`, by token position.

    Only the `:` of a COLON token directly followed by an identifier-like word (no space) is
    changed, and only where the token before cannot end an operand (so `arr[1:n]` stays a slice
    and `total: price` an alias). The text is tokenized again afterwards and everything is
    checked on that; this only decides how sqlglot reads the query, never what is trusted.
    """
    chars: list[str] | None = None
    for i, token in enumerate(tokens[:-1]):
        if token.token_type != TokenType.COLON:
            continue
        nxt = tokens[i + 1]
        if nxt.start != token.end + 1 or not _IDENTIFIER.match(nxt.text):
            continue
        after = nxt.end + 1
        if after < len(text) and text[after] == "$":
            continue  # `$name$` would open a dollar-quoted string
        if i > 0 and tokens[i - 1].token_type in _OPERAND_END:
            continue
        if chars is None:
            chars = list(text)
        chars[token.start] = "$"
    return text if chars is None else "".join(chars)


def _describe_parse_error(error: ParseError) -> str:
    if error.errors:
        first = error.errors[0]
        where = f" (line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        return f"{first.get('description')}{where}"
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
