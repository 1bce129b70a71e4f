"""``airflow-cli`` entry point: the reference's command-line client. Never imports Airflow."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from airflow_platform.cli import (
    analytics,
    api_keys,
    config,
    connections,
    dags,
    datakits,
    health,
    tasks,
    tenants,
    webhooks,
)
from airflow_platform.cli.context import options
from airflow_platform.version import __version__

app = typer.Typer(
    name="airflow-cli",
    help="Command-line client of the Airflow Platform: DAGs, tasks, connections, DataKits, analytics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config.app, name="config")
app.add_typer(dags.app, name="dags")
app.add_typer(tasks.app, name="tasks")
app.add_typer(tenants.app, name="tenants")
app.add_typer(api_keys.app, name="api-keys")
app.add_typer(connections.app, name="connections")
app.add_typer(datakits.app, name="datakits")
app.add_typer(analytics.app, name="analytics")
app.add_typer(webhooks.app, name="webhooks")
app.command("health")(health.health)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"airflow-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Server URL (overrides config and $AIRFLOW_PLATFORM_URL)."),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant to act in (X-Tenant-ID).")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="Seconds to wait per request.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Talk to an Airflow Platform server."""
    # The CLI's stdout is its output (tables, JSON for scripts): HTTP libraries' INFO lines must
    # never land there, even when a host application configured the root logger.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    opts = options(ctx)
    opts.base_url, opts.tenant, opts.timeout = base_url, tenant, timeout


def main() -> None:
    app()
