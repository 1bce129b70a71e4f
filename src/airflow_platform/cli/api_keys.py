"""``airflow-cli api-keys list|get|create|revoke``."""

from __future__ import annotations

from typing import Annotated, Any

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
from airflow_platform.schemas.auth import ApiKey

app = typer.Typer(help="Platform API keys (the secret is shown once, at creation).")

KeyIdArg = Annotated[str, typer.Argument(help="The key's id (key_…), not its secret.", show_default=False)]


def key_fields(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "user": key.user,
        "tenant": key.tenant_id,
        "scopes": key.scopes,
        "status": key.status,
        "created": key.created_at,
        "expires": key.expires_at,
        "last used": key.last_used_at,
    }


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the keys you can see (yours; a tenant admin's tenant; a platform admin's all)."""
    with make_client(ctx) as client:
        page = client.api_keys.list(limit=limit, offset=offset)
        keys = list(page) if all_pages else page.api_keys
    if output != OutputFormat.table:
        emit({"api_keys": keys, "total_entries": page.total_entries}, output)
        return
    rows = [[k.id, k.name, k.prefix, k.user, k.tenant_id, k.scopes, k.status, k.last_used_at] for k in keys]
    table(["id", "name", "prefix", "user", "tenant", "scopes", "status", "last used"], rows)
    if not all_pages:
        page_footer(len(keys), offset, page.total_entries, "keys")


@app.command()
@handle_errors
def get(ctx: typer.Context, key_id: KeyIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Show one key (never its secret)."""
    with make_client(ctx) as client:
        key = client.api_keys.get(key_id)
    emit(key, output) if output != OutputFormat.table else details(key_fields(key), title=key.name)


@app.command()
@handle_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.", show_default=False)],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant it acts in (default: yours).")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="'*' or '<area>:read|write' (repeatable).")
    ] = None,
    expires_in_days: Annotated[int | None, typer.Option("--expires-in-days", min=1, max=3650)] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Airflow user it acts as (platform admins).")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a key and print its secret, once."""
    with make_client(ctx) as client:
        created = client.api_keys.create(
            name, tenant_id=tenant, scopes=scope or None, expires_in_days=expires_in_days, user=user
        )
    if output != OutputFormat.table:
        emit(created, output)
        return
    details(key_fields(created), title=created.name)
    note("The secret below is shown once; store it now.")
    typer.echo(created.key)


@app.command()
@handle_errors
def revoke(
    ctx: typer.Context,
    key_id: KeyIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Revoke a key: it stops working at once."""
    confirm(f"revoke API key {key_id}", yes)
    with make_client(ctx) as client:
        key = client.api_keys.revoke(key_id)
    emit(key, output) if output != OutputFormat.table else note(f"Revoked {key.id} ({key.name}).")
