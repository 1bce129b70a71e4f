"""``airflow-cli analytics query|status|results|cancel|history|saved …``.

``query`` prints rows as a table for people, the whole result document as JSON, or every row as
CSV (the server's own CSV of the stored result, not just the first page); ``--output FILE`` writes
the chosen format to a file instead, Arrow and Parquet included.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from airflow_platform.cli.context import make_client
from airflow_platform.cli.errors import handle_errors
from airflow_platform.cli.output import (
    AllPagesOption,
    LimitOption,
    OffsetOption,
    OutputFormat,
    OutputOption,
    confirm,
    details,
    emit,
    emit_json,
    err_console,
    note,
    page_footer,
    table,
)
from airflow_platform.schemas.analytics import PARAMETER_TYPES, QueryResult
from airflow_platform.sdk.client import PlatformClient
from airflow_platform.sdk.resources.analytics import (
    DownloadFormat,
    QueryResultHandle,
    QueryStatusName,
    SavedQuery,
)

app = typer.Typer(help="Read-only SQL over the warehouse or a connection: run, follow, cancel, history.")

QueryIdArg = Annotated[str, typer.Argument(help="The query id (q_…).", show_default=False)]


class RowFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    arrow = "arrow"
    parquet = "parquet"


FormatOption = Annotated[
    RowFormat,
    typer.Option(
        "--format", "-f", case_sensitive=False, help="table, json or csv; arrow and parquet with --output."
    ),
]
OutputFileOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]


def parse_params(values: list[str] | None) -> dict[str, Any]:
    """``--param name=value`` (the value as JSON when it parses: 5, true, ["a"]; else text) and
    ``--param name:type=value`` for types JSON lacks (date, timestamp, decimal, uuid, ...)."""
    result: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        name, _, type_name = key.strip().partition(":")
        if not sep or not name:
            raise typer.BadParameter(f"{item!r} is not name=value or name:type=value", param_hint="--param")
        if type_name:
            if type_name not in PARAMETER_TYPES:
                raise typer.BadParameter(
                    f"{type_name!r} is not one of {', '.join(PARAMETER_TYPES)}", param_hint="--param"
                )
            result[name] = {"type": type_name, "value": raw}
            continue
        try:
            result[name] = json.loads(raw)
        except json.JSONDecodeError:
            result[name] = raw
    return result


def read_sql(sql: str | None, file: Path | None) -> str:
    if file is not None:
        if sql is not None:
            raise typer.BadParameter("give the SQL or --file, not both", param_hint="--file")
        return file.read_text(encoding="utf-8")
    if sql is None:
        raise typer.BadParameter("give the SQL as an argument, '-' for stdin, or --file", param_hint="SQL")
    return sys.stdin.read() if sql == "-" else sql


def check_format(fmt: RowFormat, output_file: Path | None) -> None:
    if fmt in (RowFormat.arrow, RowFormat.parquet) and output_file is None:
        raise typer.BadParameter(f"{fmt.value} is binary: give --output FILE", param_hint="--format")
    if fmt is RowFormat.table and output_file is not None:
        raise typer.BadParameter(
            "a table is for the terminal: use json, csv, arrow or parquet", param_hint="--format"
        )


def summary(result: QueryResult) -> str:
    parts = [f"{result.rows_returned if result.rows_returned is not None else '?'} rows"]
    if result.execution_time_ms is not None:
        parts.append(f"{result.execution_time_ms:g} ms")
    if result.metadata.cache_hit:
        parts.append("cache hit")
    if result.truncated:
        parts.append("truncated at the row limit")
    return f"Query {result.query_id}: " + ", ".join(parts) + "."


def show_rows(result: QueryResult) -> None:
    columns = [c.name for c in result.columns or []]
    rows = result.data or []
    if not columns and rows:
        columns = list(rows[0])
    table(columns, [[row.get(c) for c in columns] for row in rows])
    shown = len(rows)
    if result.rows_returned is not None and shown < result.rows_returned:
        note(
            f"Showing rows {result.offset + 1}-{result.offset + shown} of {result.rows_returned}; "
            "use --format csv for all of them."
        )


def emit_rows(client: PlatformClient, result: QueryResult, fmt: RowFormat, output_file: Path | None) -> None:
    """Rows in the chosen format to stdout or a file; JSON is the whole result document."""
    if fmt is RowFormat.table:
        show_rows(result)
        return
    if fmt is RowFormat.json:
        text = json.dumps(result.model_dump(mode="json", by_alias=True), indent=2, default=str)
        if output_file is None:
            typer.echo(text)
        else:
            output_file.write_text(text + "\n", encoding="utf-8")
            note(f"Wrote {output_file}.")
        return
    data = client.analytics.download(result.query_id, format=cast(DownloadFormat, fmt.value))
    if output_file is None:
        typer.echo(data.decode("utf-8"), nl=False)
        return
    output_file.write_bytes(data)
    note(f"Wrote {output_file} ({len(data)} bytes).")


def status_fields(result: QueryResult) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "query_id": result.query_id,
        "status": result.status,
        "database": result.metadata.database,
        "rows": result.rows_returned,
        "execution ms": result.execution_time_ms,
        "tables": result.metadata.tables_accessed,
        "cache hit": result.metadata.cache_hit,
        "submitted": result.submitted_at,
        "finished": result.finished_at,
        "by": result.submitted_by,
        "query": " ".join(result.query.split()),
        "parameters": result.parameters,
    }
    if result.error is not None:
        fields["error"] = f"{result.error.code}: {result.error.message}"
    return fields


def wait_with_progress(result: QueryResultHandle, timeout: float | None) -> None:
    if result.finished:
        return
    with err_console.status(f"Query {result.query_id}: {result.status}") as spinner:
        result.wait(timeout=timeout, on_poll=lambda r: spinner.update(f"Query {r.query_id}: {r.status}"))


@app.command()
@handle_errors
def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="One read-only statement; '-' reads stdin.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the SQL from this file.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="name=value or name:type=value for :name (repeatable)."),
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="warehouse (default) or a connection id.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="Most rows to keep.")] = None,
    timeout: Annotated[
        float | None, typer.Option("--query-timeout", min=0.1, help="Seconds the engine may run.")
    ] = None,
    submit_only: Annotated[
        bool, typer.Option("--async", help="Submit and print the query id; do not wait.")
    ] = False,
    wait_timeout: Annotated[
        float | None, typer.Option("--wait-timeout", min=1, help="Give up waiting after this long.")
    ] = None,
    fmt: FormatOption = RowFormat.table,
    output_file: OutputFileOption = None,
) -> None:
    """Run a query and print its rows."""
    check_format(fmt, output_file)
    statement = read_sql(sql, file)
    parameters = parse_params(param)
    with make_client(ctx) as client:
        result = client.analytics.query(
            statement, parameters, database=database, limit=limit, timeout_seconds=timeout,
            run_async=submit_only, wait=False,
        )  # fmt: skip
        if submit_only:
            if fmt is RowFormat.json:
                emit_json(result)
            else:
                typer.echo(result.query_id)
                follow = f"airflow-cli analytics status {result.query_id}"
                note(f"Submitted ({result.status}); follow it with `{follow}`.")
            return
        wait_with_progress(result, wait_timeout)
        result.raise_for_status()
        note(summary(result))
        emit_rows(client, result, fmt, output_file)


@app.command()
@handle_errors
def status(ctx: typer.Context, query_id: QueryIdArg, output: OutputOption = OutputFormat.table) -> None:
    """A query's state (without its rows)."""
    with make_client(ctx) as client:
        result = client.analytics.get(query_id, limit=0)
    if output != OutputFormat.table:
        emit(result, output)
    else:
        details(status_fields(result), title=query_id)


@app.command()
@handle_errors
def results(
    ctx: typer.Context,
    query_id: QueryIdArg,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Rows to skip (table and json).")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="Rows (table and json).")] = None,
    fmt: FormatOption = RowFormat.table,
    output_file: OutputFileOption = None,
) -> None:
    """A finished query's rows again (csv, arrow and parquet: every row)."""
    check_format(fmt, output_file)
    with make_client(ctx) as client:
        result = client.analytics.get(query_id, offset=offset, limit=limit)
        result.raise_for_status()
        if not result.finished:
            raise ValueError(f"Query {query_id} is still {result.status}; its rows are not there yet.")
        emit_rows(client, result, fmt, output_file)


@app.command()
@handle_errors
def cancel(ctx: typer.Context, query_id: QueryIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Interrupt a running query (a finished one is left as it is)."""
    with make_client(ctx) as client:
        result = client.analytics.cancel(query_id)
    if output != OutputFormat.table:
        emit(result, output)
    elif result.status == "cancelled":
        note(f"Cancelled {query_id}.")
    else:
        note(f"{query_id} had already finished: {result.status}.")


@app.command()
@handle_errors
def history(
    ctx: typer.Context,
    status_: Annotated[
        str | None, typer.Option("--status", help="queued, running, completed, failed or cancelled.")
    ] = None,
    database: Annotated[str | None, typer.Option("--database", help="Only this database.")] = None,
    limit: LimitOption = 50,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Your recent queries (platform admins: everyone's)."""
    if status_ not in (None, "queued", "running", "completed", "failed", "cancelled"):
        raise typer.BadParameter("use queued, running, completed, failed or cancelled", param_hint="--status")
    with make_client(ctx) as client:
        wanted = cast(QueryStatusName | None, status_)
        page = client.analytics.history(status=wanted, database=database, limit=limit, offset=offset)
        found = list(page) if all_pages else page.queries
    if output != OutputFormat.table:
        emit({"queries": found, "total_entries": page.total_entries}, output)
        return
    rows = [
        [q.query_id, q.status, q.database, q.rows_returned, q.execution_time_ms, q.submitted_at,
         " ".join(q.query.split())[:60]]
        for q in found
    ]  # fmt: skip
    table(["query id", "status", "database", "rows", "ms", "submitted", "query"], rows)
    if not all_pages:
        page_footer(len(found), offset, page.total_entries, "queries")


# -- saved queries ---------------------------------------------------------------------------

saved_app = typer.Typer(
    help="Saved queries: store SQL with typed parameters, run it again, export it on a schedule."
)
app.add_typer(saved_app, name="saved")
SavedIdArg = Annotated[str, typer.Argument(help="The saved query's id.", show_default=False)]


def parse_param_defs(values: list[str] | None) -> list[dict[str, Any]] | None:
    """``--param-def name[:type][=default][!]``: a trailing ``!`` makes it required."""
    declared: list[dict[str, Any]] = []
    for item in values or []:
        required = item.endswith("!")
        spec, sep, default = item.rstrip("!").partition("=")
        name, _, type_name = spec.strip().partition(":")
        type_name = type_name or "string"
        if not name or type_name not in PARAMETER_TYPES:
            raise typer.BadParameter(
                f"{item!r}: use name[:type][=default][!] with a type of {', '.join(PARAMETER_TYPES)}",
                param_hint="--param-def",
            )
        entry: dict[str, Any] = {"name": name, "type": type_name, "required": required}
        if sep:
            entry["default"] = default
        declared.append(entry)
    return declared or None


def saved_fields(saved: SavedQuery) -> dict[str, Any]:
    return {
        "id": saved.id,
        "name": saved.name,
        "description": saved.description,
        "query": " ".join(saved.query.split()),
        "parameters": [
            f"{p.name}:{p.type}"
            + (f"={p.default}" if p.default is not None else "")
            + ("!" if p.required else "")
            for p in saved.parameters
        ],
        "tags": saved.tags,
        "schedule": saved.schedule,
        "export": f"{saved.output_format or '-'} → {saved.destination}" if saved.destination else None,
    }


@saved_app.command("list")
@handle_errors
def saved_list(
    ctx: typer.Context,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only with this tag (repeatable).")] = None,
    search: Annotated[str | None, typer.Option("--search", help="In name and description.")] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List saved queries."""
    with make_client(ctx) as client:
        page = client.analytics.list_saved_queries(
            tags=tag or None, search=search, limit=limit, offset=offset
        )
        found = list(page) if all_pages else page.saved_queries
    if output != OutputFormat.table:
        emit({"saved_queries": found, "total_entries": page.total_entries}, output)
        return
    table(["id", "name", "parameters", "tags", "schedule"],
          [[q.id, q.name, [p.name for p in q.parameters], q.tags, q.schedule] for q in found])  # fmt: skip
    if not all_pages:
        page_footer(len(found), offset, page.total_entries, "saved queries")


@saved_app.command("get")
@handle_errors
def saved_get(ctx: typer.Context, saved_id: SavedIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Show a saved query."""
    with make_client(ctx) as client:
        saved = client.analytics.get_saved_query(saved_id)
    emit(saved, output) if output != OutputFormat.table else details(saved_fields(saved), title=saved.name)


@saved_app.command("create")
@handle_errors
def saved_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for people.", show_default=False)],
    sql: Annotated[str | None, typer.Option("--query", help="The SQL ('-' reads stdin).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the SQL from this file.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    param_def: Annotated[
        list[str] | None,
        typer.Option("--param-def", help="name[:type][=default][!] (! = required; repeatable)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Repeatable.")] = None,
    database: Annotated[str | None, typer.Option("--database", help="warehouse or a connection id.")] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="Cron: export on this schedule.")] = None,
    output_format: Annotated[
        str | None, typer.Option("--output-format", help="csv, parquet or json (scheduled exports).")
    ] = None,
    destination: Annotated[
        str | None, typer.Option("--destination", help="Where scheduled exports go, e.g. file:///reports/.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Save a query for reuse."""
    if output_format not in (None, "csv", "parquet", "json"):
        raise typer.BadParameter("use csv, parquet or json", param_hint="--output-format")
    statement = read_sql(sql, file)
    with make_client(ctx) as client:
        saved = client.analytics.save_query(
            name, statement, description=description, parameters=parse_param_defs(param_def),
            tags=tag or None, schedule=schedule, output_format=cast(Any, output_format),
            destination=destination, database=database,
        )  # fmt: skip
    if output != OutputFormat.table:
        emit(saved, output)
        return
    note(f"Saved {saved.name} as {saved.id}.")
    details(saved_fields(saved), title=saved.name)


@saved_app.command("run")
@handle_errors
def saved_run(
    ctx: typer.Context,
    saved_id: SavedIdArg,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value or name:type=value (repeatable).")
    ] = None,
    wait_timeout: Annotated[float | None, typer.Option("--wait-timeout", min=1)] = None,
    fmt: FormatOption = RowFormat.table,
    output_file: OutputFileOption = None,
) -> None:
    """Run a saved query (parameters override its defaults) and print its rows."""
    check_format(fmt, output_file)
    with make_client(ctx) as client:
        result = client.analytics.execute_saved_query(saved_id, parse_params(param), wait=False)
        wait_with_progress(result, wait_timeout)
        result.raise_for_status()
        note(summary(result))
        emit_rows(client, result, fmt, output_file)


@saved_app.command("delete")
@handle_errors
def saved_delete(
    ctx: typer.Context,
    saved_id: SavedIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Delete a saved query (and its scheduled export)."""
    confirm(f"delete saved query {saved_id}", yes)
    with make_client(ctx) as client:
        client.analytics.delete_saved_query(saved_id)
    emit({"deleted": saved_id}, output) if output != OutputFormat.table else note(
        f"Deleted saved query {saved_id}."
    )
