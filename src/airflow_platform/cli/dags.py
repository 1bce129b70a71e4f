"""``airflow-cli dags list|get|trigger|pause|unpause|backfill|runs``."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer

from airflow_platform.cli.context import make_client
from airflow_platform.cli.errors import handle_errors
from airflow_platform.cli.output import (
    OutputFormat,
    OutputOption,
    details,
    emit,
    err_console,
    note,
    page_footer,
    table,
)
from airflow_platform.schemas.airflow import DAG, DAGRun
from airflow_platform.sdk.dates import as_datetime
from airflow_platform.sdk.resources.dag_runs import DagRun

app = typer.Typer(help="List, inspect, trigger, pause and backfill DAGs.")

DagIdArg = Annotated[str, typer.Argument(help="The DAG id.", show_default=False)]
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items per page.")]
OffsetOption = Annotated[int, typer.Option("--offset", min=0, help="Items to skip.")]
AllOption = Annotated[bool, typer.Option("--all", help="Fetch every page.")]


class Reprocess(str, Enum):
    none = "none"
    failed = "failed"
    completed = "completed"


def parse_conf(value: str | None) -> dict[str, Any] | None:
    """``--conf`` must be a JSON object."""
    if value is None:
        return None
    try:
        conf = json.loads(value)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(conf, dict):
        raise typer.BadParameter("must be a JSON object, e.g. '{\"batch_size\": 5000}'")
    return conf


def check_conf(value: str | None) -> str | None:
    """Option callback: a bad ``--conf`` is a usage error naming the option, before any request."""
    parse_conf(value)
    return value


ConfOption = Annotated[
    str | None, typer.Option("--conf", help="Run configuration as a JSON object.", callback=check_conf)
]


def parse_day(value: str) -> datetime:
    try:
        return as_datetime(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None


def dag_row(dag: DAG) -> list[Any]:
    return [dag.dag_id, dag.is_paused, dag.schedule_interval, dag.next_dagrun, dag.tag_names, dag.owners]


def run_fields(run: DAGRun) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "dag_run_id": run.dag_run_id,
        "state": run.state,
        "run_type": run.run_type,
        "logical_date": run.logical_date,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "conf": run.conf,
        "note": run.note,
    }


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    tags: Annotated[
        str | None, typer.Option("--tags", help="Only DAGs with any of these comma-separated tags.")
    ] = None,
    only_active: Annotated[
        bool, typer.Option("--only-active/--include-inactive", help="Hide DAGs whose file is gone.")
    ] = True,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List DAGs."""
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    with make_client(ctx) as client:
        page = client.dags.list(tags=tag_list, only_active=only_active, limit=limit, offset=offset)
        dags = list(page) if all_pages else page.dags
    if output != OutputFormat.table:
        emit({"dags": dags, "total_entries": page.total_entries}, output)
        return
    table(["DAG id", "paused", "schedule", "next run", "tags", "owners"], [dag_row(d) for d in dags])
    if not all_pages:
        page_footer(len(dags), offset, page.total_entries, "DAGs")


@app.command()
@handle_errors
def get(ctx: typer.Context, dag_id: DagIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Show one DAG."""
    with make_client(ctx) as client:
        dag = client.dags.get(dag_id)
    if output != OutputFormat.table:
        emit(dag, output)
        return
    details(
        {
            "dag_id": dag.dag_id,
            "description": dag.description,
            "paused": dag.is_paused,
            "active": dag.is_active,
            "schedule": dag.schedule_interval,
            "next run": dag.next_dagrun,
            "tags": dag.tag_names,
            "owners": dag.owners,
            "file": dag.fileloc,
            "max active runs": dag.max_active_runs,
            "import errors": dag.has_import_errors,
            "last parsed": dag.last_parsed_time,
        },
        title=dag.dag_id,
    )


def _wait(run: DagRun, poll_interval: float, timeout: float | None) -> None:
    with err_console.status(f"Run {run.dag_run_id}: {run.state}") as status:

        def show(current: DagRun) -> None:
            status.update(f"Run {current.dag_run_id}: {current.state}")

        run.wait(timeout=timeout, poll_interval=poll_interval, on_poll=show)


@app.command()
@handle_errors
def trigger(
    ctx: typer.Context,
    dag_id: DagIdArg,
    conf: ConfOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (default: Airflow picks one).")
    ] = None,
    logical_date: Annotated[
        str | None, typer.Option("--logical-date", help="Logical (execution) date, ISO 8601.")
    ] = None,
    run_note: Annotated[str | None, typer.Option("--note", help="A note on the run.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the run succeeds or fails.")] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.1, help="Seconds between checks.")
    ] = 5.0,
    wait_timeout: Annotated[
        float | None, typer.Option("--wait-timeout", min=1, help="Give up waiting after this many seconds.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Start a DAG run (and with --wait, follow it: exit 1 if it fails)."""
    conf_dict = parse_conf(conf)
    date = parse_day(logical_date) if logical_date else None
    with make_client(ctx) as client:
        run = client.dags.trigger(dag_id, conf=conf_dict, run_id=run_id, logical_date=date, note=run_note)
        if output == OutputFormat.table:
            note(f"Started run {run.dag_run_id} of {dag_id} ({run.state}).")
        if wait:
            _wait(run, poll_interval, wait_timeout)
    if output != OutputFormat.table:
        emit(run, output)
    else:
        details(run_fields(run), title=f"{dag_id} / {run.dag_run_id}")
    if wait and run.state != "success":
        raise typer.Exit(1)


@app.command()
@handle_errors
def pause(ctx: typer.Context, dag_id: DagIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Pause a DAG: no new scheduled runs."""
    with make_client(ctx) as client:
        dag = client.dags.pause(dag_id)
    emit(dag, output) if output != OutputFormat.table else note(f"Paused {dag.dag_id}.")


@app.command()
@handle_errors
def unpause(ctx: typer.Context, dag_id: DagIdArg, output: OutputOption = OutputFormat.table) -> None:
    """Unpause a DAG."""
    with make_client(ctx) as client:
        dag = client.dags.unpause(dag_id)
    emit(dag, output) if output != OutputFormat.table else note(f"Unpaused {dag.dag_id}.")


@app.command()
@handle_errors
def backfill(
    ctx: typer.Context,
    dag_id: DagIdArg,
    start_date: Annotated[str, typer.Option("--start-date", help="First logical date (YYYY-MM-DD).")],
    end_date: Annotated[str, typer.Option("--end-date", help="Last logical date (YYYY-MM-DD).")],
    conf: ConfOption = None,
    reprocess: Annotated[
        Reprocess, typer.Option("--reprocess", help="Which existing runs to run again.", case_sensitive=False)
    ] = Reprocess.none,
    max_active_runs: Annotated[int, typer.Option("--max-active-runs", min=1)] = 10,
    run_backwards: Annotated[bool, typer.Option("--run-backwards", help="Newest date first.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create runs for every logical date in a range (Airflow 3; not available on Airflow 2.11's API)."""
    start, end = parse_day(start_date), parse_day(end_date)
    with make_client(ctx) as client:
        created = client.dags.backfill(
            dag_id,
            start_date=start,
            end_date=end,
            conf=parse_conf(conf),
            run_backwards=run_backwards,
            reprocess_behavior=reprocess.value,
            max_active_runs=max_active_runs,
        )
    if output != OutputFormat.table:
        emit(created, output)
        return
    details(
        {
            "backfill id": created.id,
            "dag_id": created.dag_id,
            "from": created.from_date,
            "to": created.to_date,
            "reprocess": created.reprocess_behavior,
            "max active runs": created.max_active_runs,
        },
        title="Backfill created",
    )


@app.command()
@handle_errors
def runs(
    ctx: typer.Context,
    dag_id: DagIdArg,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only runs in this state (repeatable).")
    ] = None,
    limit: LimitOption = 25,
    offset: OffsetOption = 0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List a DAG's runs, newest first."""
    with make_client(ctx) as client:
        page = client.dags.runs(dag_id, state=state, newest_first=True, limit=limit, offset=offset)
    if output != OutputFormat.table:
        emit({"dag_runs": page.dag_runs, "total_entries": page.total_entries}, output)
        return
    rows = [
        [r.dag_run_id, r.state, r.run_type, r.logical_date, r.start_date, r.end_date] for r in page.dag_runs
    ]
    table(["run id", "state", "type", "logical date", "started", "ended"], rows)
    page_footer(len(page.dag_runs), offset, page.total_entries, "runs")
