"""``airflow-platform``: commands for the people who run the platform, beside ``airflow``.

They use Airflow's own configuration (``AIRFLOW_HOME``, ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``),
so they act on the same metadata DB as the server.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="airflow-platform",
    help="Administer the Airflow Platform inside an Airflow installation.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The platform's tables in Airflow's metadata database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _migrator():  # type: ignore[no-untyped-def]
    from airflow_platform.compat import metadata_engine
    from airflow_platform.storage.migrator import Migrator

    return Migrator(metadata_engine())


@db_app.command("migrate")
def db_migrate(
    to_revision: str = typer.Option("head", "--to-revision", "-r", help="Revision to upgrade to."),
) -> None:
    """Create or upgrade the platform tables (safe to run again)."""
    migrator = _migrator()
    before = migrator.current()
    migrator.upgrade(to_revision)
    after = migrator.current()
    if before == after:
        typer.echo(f"Platform schema already at revision {after}.")
    else:
        typer.echo(f"Platform schema migrated: {before or 'empty'} -> {after}.")


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


def main() -> None:
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
