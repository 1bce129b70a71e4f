"""How results reach the terminal: rich tables for people, ``--output json`` or ``yaml`` for scripts.

Tables and data go to stdout; progress, notes and errors go to stderr, so that
``airflow-cli dags list -o json | jq`` never sees a spinner.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    #: The same document as ``json``, easier to keep in files and to read (webhook configurations, kits).
    yaml = "yaml"


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json or yaml for scripts.", case_sensitive=False),
]


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), indent=2, default=str))


def emit(value: Any, output: OutputFormat) -> None:
    """The document in the chosen data format (``table`` is each command's own rendering)."""
    if output == OutputFormat.yaml:
        import yaml

        typer.echo(yaml.safe_dump(jsonable(value), sort_keys=False, allow_unicode=True), nl=False)
    else:
        emit_json(value)


def cell(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, BaseModel):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(jsonable(value), default=str)
    return str(value)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    view = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        view.add_column(name, overflow="fold")
    for row in rows:
        view.add_row(*(cell(v) for v in row))
    console.print(view)


def details(fields: Mapping[str, Any], *, title: str | None = None) -> None:
    """One object as a two-column table."""
    view = Table(title=title, title_justify="left", show_header=False)
    view.add_column("field", style="bold")
    view.add_column("value", overflow="fold")
    for name, value in fields.items():
        view.add_row(name, cell(value))
    console.print(view)


def note(message: str) -> None:
    err_console.print(message, soft_wrap=True)


def page_footer(shown: int, offset: int, total: int | None, noun: str) -> None:
    if total is None or shown >= total:
        return
    note(f"Showing {offset + 1}-{offset + shown} of {total} {noun}; use --offset {offset + shown} or --all.")


#: Paging options every list command shares.
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=1000)]
OffsetOption = Annotated[int, typer.Option("--offset", min=0)]
AllPagesOption = Annotated[bool, typer.Option("--all", help="Fetch every page.")]


def confirm(action: str, yes: bool) -> None:
    """Ask at a terminal; refuse without --yes anywhere else (a script cannot answer)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ValueError(f"Refusing to {action} without --yes (not an interactive terminal).")
    typer.confirm(f"{action[0].upper()}{action[1:]}?", abort=True)
