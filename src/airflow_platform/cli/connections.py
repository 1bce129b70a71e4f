"""``airflow-cli connections list|get|create|test|delete|export|import``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, cast

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
    note,
    page_footer,
    table,
)
from airflow_platform.schemas.connections import Connection

app = typer.Typer(help="Airflow connections of your tenant (passwords go in, never out).")

ConnectionArg = Annotated[str, typer.Argument(help="The connection id.", show_default=False)]


def connection_fields(conn: Connection) -> dict[str, Any]:
    return {
        "connection_id": conn.connection_id,
        "type": conn.connection_type,
        "description": conn.description,
        "host": conn.host,
        "port": conn.port,
        "schema": conn.schema_,
        "login": conn.login,
        "password": conn.password,
        "extra": conn.extra,
        "tenant": conn.tenant_id,
    }


def parse_extra(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"not valid JSON: {e}", param_hint="--extra") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--extra")
    return parsed


def read_password_stdin() -> str:
    """The first line of stdin, so the password never appears in argv or shell history."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ValueError("--password-stdin given but stdin had no password.")
    return password


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    connection_type: Annotated[str | None, typer.Option("--type", help="Only this connection type.")] = None,
    search: Annotated[str | None, typer.Option("--search", help="In id and description.")] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the connections you can see."""
    with make_client(ctx) as client:
        page = client.connections.list(
            connection_type=connection_type, search=search, limit=limit, offset=offset
        )
        conns = list(page) if all_pages else page.connections
    if output != OutputFormat.table:
        emit({"connections": conns, "total_entries": page.total_entries}, output)
        return
    rows = [[c.connection_id, c.connection_type, c.host, c.port, c.login, c.tenant_id] for c in conns]
    table(["connection id", "type", "host", "port", "login", "tenant"], rows)
    if not all_pages:
        page_footer(len(conns), offset, page.total_entries, "connections")


@app.command()
@handle_errors
def get(ctx: typer.Context, connection_id: ConnectionArg, output: OutputOption = OutputFormat.table) -> None:
    """Show one connection (the password as ***)."""
    with make_client(ctx) as client:
        conn = client.connections.get(connection_id)
    emit(conn, output) if output != OutputFormat.table else details(
        connection_fields(conn), title=connection_id
    )


@app.command()
@handle_errors
def create(
    ctx: typer.Context,
    connection_id: ConnectionArg,
    connection_type: Annotated[str, typer.Option("--type", help="e.g. postgres, http.", show_default=False)],
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535)] = None,
    schema: Annotated[str | None, typer.Option("--schema")] = None,
    login: Annotated[str | None, typer.Option("--login")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    extra: Annotated[str | None, typer.Option("--extra", help="A JSON object.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a connection owned by your tenant."""
    extra_dict = parse_extra(extra)
    password = read_password_stdin() if password_stdin else None
    with make_client(ctx) as client:
        conn = client.connections.create(
            connection_id,
            connection_type,
            description=description,
            host=host,
            port=port,
            schema=schema,
            login=login,
            password=password,
            extra=extra_dict,
        )
    if output != OutputFormat.table:
        emit(conn, output)
        return
    note(f"Created connection {conn.connection_id}.")
    details(connection_fields(conn), title=conn.connection_id)


@app.command("test")
@handle_errors
def check(
    ctx: typer.Context, connection_id: ConnectionArg, output: OutputOption = OutputFormat.table
) -> None:
    """Test a connection through its hook (exit 1 when it fails)."""
    with make_client(ctx) as client:
        result = client.connections.test(connection_id)
    if output != OutputFormat.table:
        emit(result, output)
    else:
        details({"status": result.status, "message": result.message, "latency ms": result.latency_ms},
                title=connection_id)  # fmt: skip
    if result.status != "success":
        raise typer.Exit(1)


@app.command()
@handle_errors
def delete(
    ctx: typer.Context,
    connection_id: ConnectionArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Delete a connection."""
    confirm(f"delete connection {connection_id}", yes)
    with make_client(ctx) as client:
        client.connections.delete(connection_id)
    if output != OutputFormat.table:
        emit({"deleted": connection_id}, output)
    else:
        note(f"Deleted connection {connection_id}.")


@app.command()
@handle_errors
def export(
    ctx: typer.Context,
    output_file: Annotated[
        Path | None, typer.Option("--output", "--file", help="Write to this file instead of stdout.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Passwords too (platform admins).")
    ] = False,
) -> None:
    """Export your tenant's connections as YAML or JSON."""
    if format_ not in ("yaml", "json"):
        raise typer.BadParameter("use yaml or json", param_hint="--format")
    with make_client(ctx) as client:
        text = client.connections.export(
            "json" if format_ == "json" else "yaml", include_secrets=include_secrets
        )
    if output_file is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output_file.write_text(text, encoding="utf-8")
    note(f"Wrote {output_file}.")


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", help="An export (YAML or JSON).", show_default=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    on_conflict: Annotated[str, typer.Option("--on-conflict", help="fail, skip or overwrite.")] = "fail",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Import connections from an export file."""
    if on_conflict not in ("fail", "skip", "overwrite"):
        raise typer.BadParameter("use fail, skip or overwrite", param_hint="--on-conflict")
    text = file.read_text(encoding="utf-8")
    with make_client(ctx) as client:
        conflict = cast(Literal["fail", "skip", "overwrite"], on_conflict)
        result = client.connections.import_(text, dry_run=dry_run, on_conflict=conflict)
    if output != OutputFormat.table:
        emit(result, output)
        return
    rows = [[what, ", ".join(ids) or "-"] for what, ids in
            (("created", result.created), ("updated", result.updated),
             ("unchanged", result.unchanged), ("skipped", result.skipped))]  # fmt: skip
    table(["", "connections"], rows, title="Dry run (nothing changed)" if dry_run else None)
