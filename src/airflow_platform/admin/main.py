"""``airflow-platform``: commands for the people who run the platform, beside ``airflow``.

They use Airflow's own configuration (``AIRFLOW_HOME``, ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``),
so they act on the same metadata DB as the server.
"""

from __future__ import annotations

import sys

import typer

from airflow_platform.storage.migrator import Migrator

app = typer.Typer(
    name="airflow-platform",
    help="Administer the Airflow Platform inside an Airflow installation.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The platform's tables in Airflow's metadata database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="Platform API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
demo_app = typer.Typer(help="Demo data for a local platform.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


def _migrator() -> Migrator:
    from airflow_platform.compat import metadata_engine

    return Migrator(metadata_engine())


@db_app.command("migrate")
def db_migrate(
    to_revision: str = typer.Option("head", "--to-revision", "-r", help="Revision to upgrade to."),
    skip_permissions: bool = typer.Option(
        False, "--skip-permissions", help="Do not sync the platform's FAB permissions and role grants."
    ),
) -> None:
    """Create or upgrade the platform tables, and sync permissions (safe to run again)."""
    migrator = _migrator()
    before = migrator.current()
    migrator.upgrade(to_revision)
    after = migrator.current()
    if before == after:
        typer.echo(f"Platform schema already at revision {after}.")
    else:
        typer.echo(f"Platform schema migrated: {before or 'empty'} -> {after}.")
    if to_revision == "head" and not skip_permissions:
        _sync_permissions()


def _sync_permissions() -> None:
    from airflow_platform.auth.permissions import RESOURCES, ROLE_GRANTS
    from airflow_platform.compat import sync_permissions

    added = sync_permissions(ROLE_GRANTS, RESOURCES)
    typer.echo(f"Platform permissions synced ({len(added)} added).")


@app.command("sync-perms")
def sync_perms() -> None:
    """Create the platform's permissions in Airflow (FAB) and grant the default roles theirs."""
    _sync_permissions()


@db_app.command("downgrade")
def db_downgrade(
    to_revision: str = typer.Option(
        ..., "--to-revision", "-r", help="Revision to go down to ('base': none)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Downgrade the platform tables (drops what later revisions added)."""
    if not yes:
        typer.confirm(
            f"Downgrade the platform schema to {to_revision}? Data in dropped tables is lost", abort=True
        )
    migrator = _migrator()
    migrator.downgrade(to_revision)
    typer.echo(f"Platform schema now at revision {migrator.current() or 'base (no tables)'}.")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the platform schema is current, 1 when it is behind."""
    status = _migrator().status()
    if status.up_to_date:
        typer.echo(f"Platform schema is current (revision {status.head}).")
        return
    typer.echo(
        f"Platform schema is at {status.current or 'none'}, expected {status.head}: "
        "run `airflow-platform db migrate`.",
        err=True,
    )
    raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    user: str = typer.Option(..., "--user", "-u", help="Airflow user the key acts as."),
    tenant: str | None = typer.Option(
        None, "--tenant", "-t", help="Tenant the key is bound to. Default: none (platform-wide, admins)."
    ),
    scopes: list[str] = typer.Option(["*"], "--scopes", "-s", help="'*' or '<area>:read|write'; repeat."),
    name: str = typer.Option("cli", "--name", "-n", help="What the key is for."),
    expires_in_days: int | None = typer.Option(None, "--expires-in-days", min=1, help="Default: never."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the secret."),
) -> None:
    """Create an API key from the shell and print its secret (shown only this once)."""
    from airflow_platform.auth import scopes as scope_rules
    from airflow_platform.compat import user_exists
    from airflow_platform.exceptions import PlatformError
    from airflow_platform.services.api_keys import ApiKeyService
    from airflow_platform.services.tenants import TenantService

    tenants = TenantService()
    try:
        if not user_exists(user):
            raise typer.BadParameter(f"no Airflow user named {user!r}", param_hint="--user")
        if tenant is not None and not tenants.exists(tenant):
            raise typer.BadParameter(f"no tenant {tenant!r}", param_hint="--tenant")
        created = ApiKeyService(tenants).insert(
            name=name,
            username=user,
            tenant_id=tenant,
            scopes=scope_rules.normalize([s for item in scopes for s in item.split(",") if s]),
            expires_in_days=expires_in_days,
            created_by=f"cli:{user}",
        )
    except PlatformError as e:
        raise typer.BadParameter(e.message) from None
    if quiet:
        typer.echo(created.key)
        return
    typer.echo(
        f"Created API key {created.id} ({created.prefix}…) for {user}"
        f"{f' in tenant {tenant}' if tenant else ''}, scopes {', '.join(created.scopes)}."
    )
    typer.echo("Secret (shown once):")
    typer.echo(created.key)


@keys_app.command("verify")
def keys_verify(
    key_file: typer.FileText = typer.Option(..., "--key-file", help="File holding the secret ('-': stdin)."),
) -> None:
    """Exit 0 when the key in the file is active, 1 when it is unknown, expired or revoked."""
    from airflow_platform.services.api_keys import ApiKeyService

    record = ApiKeyService.resolve(key_file.read().strip())
    if record is None:
        typer.echo("The key is unknown, expired or revoked.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Active key {record.key_id} of {record.username}.")


@demo_app.command("seed")
def demo_seed(
    path: str | None = typer.Option(
        None, "--path", help="Warehouse file. Default: [platform] warehouse_path."
    ),
    wait: int = typer.Option(60, "--wait", help="Seconds to wait for readers and other writers."),
) -> None:
    """Create the demo warehouse tables that are missing (bronze, silver, gold; safe to run again)."""
    from airflow_platform import config
    from airflow_platform.demo.warehouse import seed
    from airflow_platform.exceptions import PlatformError

    target = path or config.warehouse_path()
    try:
        created = seed(target, wait_s=wait)
    except PlatformError as e:
        typer.echo(f"Error: {e.message}", err=True)
        raise typer.Exit(1) from None
    if created:
        typer.echo(f"Demo warehouse {target}: created {', '.join(created)}.")
    else:
        typer.echo(f"Demo warehouse {target}: every demo table is there already.")


@webhooks_app.command("dispatch")
def webhooks_dispatch(
    once: bool = typer.Option(False, "--once", help="One pass (collect, send what is due), then exit."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Default: [platform]."),
    poll_seconds: float | None = typer.Option(None, "--poll-seconds", min=0.01, help="Default: [platform]."),
) -> None:
    """Collect events from Airflow's tables and deliver due webhooks until SIGTERM/SIGINT.

    Safe beside the API servers' own dispatcher threads and other dispatch processes: deliveries
    are leased, so each is sent by one dispatcher at a time, always under its one webhook-id.
    """
    import signal
    import threading

    from airflow_platform.webhooks.dispatcher import Dispatcher

    dispatcher = Dispatcher(concurrency=concurrency, poll_seconds=poll_seconds)
    if once:
        attempts = dispatcher.run_once()
        dispatcher.drain()
        typer.echo(f"Webhook dispatch pass done: {attempts} attempt(s).")
        return
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"Webhook dispatcher {dispatcher.owner} running (SIGTERM or Ctrl-C stops it).")
    dispatcher.run(stop)
    typer.echo("Webhook dispatcher stopped.")


def main() -> None:
    import logging

    # Alembic and FAB narrate every step at INFO through Airflow's logging; the commands say
    # what happened in one line each instead.
    for name in ("alembic", "airflow.providers.fab", "flask_appbuilder"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        app()
    except Exception as e:  # a clear line, not a trace, for the common failures
        from sqlalchemy.exc import OperationalError

        if isinstance(e, OperationalError):
            typer.echo(f"Error: cannot reach the metadata database: {e.orig}", err=True)
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
