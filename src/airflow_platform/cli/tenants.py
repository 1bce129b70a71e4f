"""``airflow-cli tenants list|get|create|delete``."""

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
from airflow_platform.schemas.tenants import Tenant

app = typer.Typer(help="Tenants: the walls between teams (platform admins manage them).")

TenantArg = Annotated[str, typer.Argument(help="The tenant id.", show_default=False)]


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """``key=value`` options into a dict."""
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint=what)
        result[key.strip()] = value.strip()
    return result


def features(values: list[str] | None) -> dict[str, bool]:
    """``--feature gpu`` turns it on; ``--feature gpu=false`` off."""
    result = {}
    for item in values or []:
        key, _, value = item.partition("=")
        if value.lower() not in ("", "true", "false", "yes", "no", "1", "0"):
            raise typer.BadParameter(f"{item!r}: use name, name=true or name=false", param_hint="--feature")
        result[key.strip()] = value.lower() not in ("false", "no", "0")
    return result


def tenant_fields(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant_id": tenant.tenant_id,
        "display name": tenant.display_name,
        "namespace": tenant.namespace,
        "resource limits": tenant.resource_limits,
        "features": tenant.features,
        "admin users": tenant.admin_users,
        "metadata": tenant.metadata,
        "created": tenant.created_at,
        "updated": tenant.updated_at,
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
    """List the tenants you can see."""
    with make_client(ctx) as client:
        page = client.tenants.list(limit=limit, offset=offset)
        tenants = list(page) if all_pages else page.tenants
    if output != OutputFormat.table:
        emit({"tenants": tenants, "total_entries": page.total_entries}, output)
        return
    rows = [[t.tenant_id, t.display_name, t.namespace, t.admin_users, t.created_at] for t in tenants]
    table(["tenant id", "display name", "namespace", "admins", "created"], rows)
    if not all_pages:
        page_footer(len(tenants), offset, page.total_entries, "tenants")


@app.command()
@handle_errors
def get(ctx: typer.Context, tenant_id: TenantArg, output: OutputOption = OutputFormat.table) -> None:
    """Show one tenant."""
    with make_client(ctx) as client:
        tenant = client.tenants.get(tenant_id)
    emit(tenant, output) if output != OutputFormat.table else details(tenant_fields(tenant), title=tenant_id)


@app.command()
@handle_errors
def create(
    ctx: typer.Context,
    tenant_id: TenantArg,
    display_name: Annotated[str, typer.Option("--display-name", help="Name for people.", show_default=False)],
    namespace: Annotated[str | None, typer.Option("--namespace", help="Kubernetes namespace.")] = None,
    admin_user: Annotated[
        list[str] | None, typer.Option("--admin-user", help="Admin's e-mail (repeatable).")
    ] = None,
    resource_limit: Annotated[
        list[str] | None, typer.Option("--resource-limit", help="e.g. cpu=4000m (repeatable).")
    ] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="e.g. datakits (repeatable).")
    ] = None,
    metadata: Annotated[list[str] | None, typer.Option("--metadata", help="key=value (repeatable).")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a tenant (platform admins only)."""
    with make_client(ctx) as client:
        tenant = client.tenants.create(
            tenant_id,
            display_name,
            namespace=namespace,
            admin_users=admin_user or None,
            resource_limits=pairs(resource_limit, "--resource-limit") or None,
            features=features(feature) or None,
            metadata=pairs(metadata, "--metadata") or None,
        )
    if output != OutputFormat.table:
        emit(tenant, output)
        return
    note(f"Created tenant {tenant.tenant_id}.")
    details(tenant_fields(tenant), title=tenant.tenant_id)


@app.command()
@handle_errors
def delete(
    ctx: typer.Context,
    tenant_id: TenantArg,
    force: Annotated[bool, typer.Option("--force", help="Also delete what the tenant owns.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Delete a tenant (refused while it owns objects, unless --force)."""
    confirm(f"delete tenant {tenant_id}" + (" and everything it owns" if force else ""), yes)
    with make_client(ctx) as client:
        client.tenants.delete(tenant_id, force=force)
    emit({"deleted": tenant_id}, output) if output != OutputFormat.table else note(
        f"Deleted tenant {tenant_id}."
    )
