"""``airflow-cli config set|get|unset|list|path``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from airflow_platform.cli.config_store import SETTINGS, ConfigStore, check_value, mask
from airflow_platform.cli.errors import handle_errors
from airflow_platform.cli.output import OutputFormat, OutputOption, emit, note, table

app = typer.Typer(help="Where to connect and how to log in (stored in your user config directory, mode 600).")


def _complete_key(incomplete: str) -> list[str]:
    return [name for name in SETTINGS if name.startswith(incomplete)]


def _key(name: str) -> str:
    if name not in SETTINGS:
        raise typer.BadParameter(f"unknown setting {name!r}; one of {', '.join(SETTINGS)}")
    return name


KeyArg = Annotated[
    str,
    typer.Argument(
        help=f"One of {', '.join(SETTINGS)}.", callback=_key, autocompletion=_complete_key, show_default=False
    ),
]


@app.command("set")
@handle_errors
def set_(
    key: KeyArg,
    value: Annotated[
        str, typer.Argument(help="The value; '-' reads it from stdin (keeps secrets out of history).")
    ],
) -> None:
    """Store a setting."""
    if value == "-":
        value = sys.stdin.readline().strip()
    store = ConfigStore()
    store.set(key, check_value(key, value))
    env = SETTINGS[key].env
    if store.effective(key)[1] == "env":
        note(f"Saved {key}, but ${env} is set and overrides it.")
    else:
        note(f"Saved {key} to {store.path}")


@app.command()
@handle_errors
def get(
    key: KeyArg,
    show_secret: Annotated[bool, typer.Option("--show-secret", help="Print a secret in full.")] = False,
) -> None:
    """Print the value in force (the environment overrides the file)."""
    value, _source = ConfigStore().effective(key)
    if value is None:
        raise ValueError(f"{key} is not set")
    typer.echo(mask(value) if SETTINGS[key].secret and not show_secret else value)


@app.command()
@handle_errors
def unset(key: KeyArg) -> None:
    """Remove a setting from the file."""
    store = ConfigStore()
    note(f"Removed {key}." if store.unset(key) else f"{key} was not set in {store.path}.")


@app.command("list")
@handle_errors
def list_(output: OutputOption = OutputFormat.table) -> None:
    """Every setting, where its value comes from, secrets masked."""
    store = ConfigStore()
    rows = []
    for name, setting in SETTINGS.items():
        value, source = store.effective(name)
        shown = mask(value) if value and setting.secret else value
        rows.append({"key": name, "value": shown, "source": source, "env": setting.env})
    if output != OutputFormat.table:
        emit({"path": str(store.path), "settings": rows}, output)
        return
    table(["key", "value", "source", "env override"], [list(r.values()) for r in rows], title=str(store.path))


@app.command()
def path() -> None:
    """Print the config file's path."""
    typer.echo(str(ConfigStore().path))
