"""``airflow-cli`` entry point."""

from __future__ import annotations

import typer

from airflow_platform.version import __version__

app = typer.Typer(
    name="airflow-cli",
    help="Command-line client of the Airflow Platform (DAGs, tasks, connections, DataKits, analytics).",
    no_args_is_help=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"airflow-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Talk to an Airflow Platform server."""


def main() -> None:
    app()
