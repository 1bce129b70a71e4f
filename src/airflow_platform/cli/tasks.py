"""``airflow-cli tasks list|get|clear|logs``.

Runs are named the reference's way, by ``--execution-date`` (a day, or an exact ISO time), or
exactly by ``--run-id``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any

import typer

from airflow_platform import exceptions as exc
from airflow_platform.cli.context import make_client
from airflow_platform.cli.dags import DagIdArg, parse_day
from airflow_platform.cli.errors import handle_errors
from airflow_platform.cli.output import OutputFormat, OutputOption, details, emit, note, table
from airflow_platform.schemas.airflow import TaskInstance
from airflow_platform.sdk.client import PlatformClient

app = typer.Typer(help="A DAG's tasks, their runs, clearing them, and their logs.")

DateOption = Annotated[
    str | None,
    typer.Option("--execution-date", help="The run's logical date: a day (YYYY-MM-DD) or an exact ISO time."),
]
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", help="The run id (instead of --execution-date).")
]


def resolve_run(client: PlatformClient, dag_id: str, execution_date: str | None, run_id: str | None) -> str:
    """The run id for ``--run-id`` or ``--execution-date``; a day matches any run on that day."""
    if run_id:
        return run_id
    if not execution_date:
        raise typer.BadParameter("pass --execution-date or --run-id", param_hint="--execution-date")
    day_only = "T" not in execution_date and " " not in execution_date.strip()
    start = parse_day(execution_date)
    end = start + timedelta(days=1) - timedelta(microseconds=1) if day_only else start
    found = client.dags.runs(dag_id, logical_date_gte=start, logical_date_lte=end, limit=50).dag_runs
    if not found:
        raise exc.ResourceNotFoundError(f"No run of {dag_id} with logical date {execution_date}.")
    if len(found) == 1:
        return found[0].dag_run_id
    exact = [run for run in found if run.logical_date == start]
    if len(exact) == 1:
        return exact[0].dag_run_id
    ids = ", ".join(run.dag_run_id for run in found[:5])
    raise ValueError(f"{len(found)} runs of {dag_id} on {execution_date} ({ids}…); pick one with --run-id.")


def ti_fields(ti: TaskInstance) -> dict[str, Any]:
    return {
        "task_id": ti.task_id,
        "dag_run_id": ti.dag_run_id,
        "state": ti.state,
        "try": ti.try_number,
        "max tries": ti.max_tries,
        "operator": ti.operator,
        "logical date": ti.logical_date,
        "start": ti.start_date,
        "end": ti.end_date,
        "duration (s)": ti.duration,
        "host": ti.hostname,
        "pool": ti.pool,
        "queue": ti.queue,
    }


@app.command("list")
@handle_errors
def list_(ctx: typer.Context, dag_id: DagIdArg, output: OutputOption = OutputFormat.table) -> None:
    """List a DAG's tasks."""
    with make_client(ctx) as client:
        tasks = client.tasks.list(dag_id)
    if output != OutputFormat.table:
        emit({"tasks": tasks, "total_entries": len(tasks)}, output)
        return
    rows = [
        [t.task_id, t.operator_name, t.upstream_task_ids, t.downstream_task_ids, t.retries, t.trigger_rule]
        for t in tasks
    ]
    table(["task id", "operator", "upstream", "downstream", "retries", "trigger rule"], rows)


@app.command()
@handle_errors
def get(
    ctx: typer.Context,
    dag_id: DagIdArg,
    task_id: Annotated[str, typer.Argument(help="The task id.", show_default=False)],
    execution_date: DateOption = None,
    run_id: RunIdOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show a task; with --execution-date or --run-id, its instance in that run."""
    with make_client(ctx) as client:
        if execution_date or run_id:
            resolved = resolve_run(client, dag_id, execution_date, run_id)
            instance = client.tasks.get_instance(dag_id, resolved, task_id)
            emit(instance, output) if output != OutputFormat.table else details(
                ti_fields(instance), title=task_id
            )
            return
        task = client.tasks.get(dag_id, task_id)
    if output != OutputFormat.table:
        emit(task, output)
        return
    details(
        {
            "task_id": task.task_id,
            "operator": task.operator_name,
            "owner": task.owner,
            "trigger rule": task.trigger_rule,
            "retries": task.retries,
            "retry delay": task.retry_delay,
            "pool": task.pool,
            "queue": task.queue,
            "downstream": task.downstream_task_ids,
        },
        title=f"{dag_id}.{task.task_id}",
    )


@app.command()
@handle_errors
def clear(
    ctx: typer.Context,
    dag_id: DagIdArg,
    task: Annotated[
        list[str], typer.Option("--task", help="Task to clear (repeatable).", show_default=False)
    ],
    execution_date: DateOption = None,
    run_id: RunIdOption = None,
    downstream: Annotated[bool, typer.Option("--downstream", help="Also clear downstream tasks.")] = False,
    upstream: Annotated[bool, typer.Option("--upstream", help="Also clear upstream tasks.")] = False,
    only_failed: Annotated[bool, typer.Option("--only-failed", help="Only failed instances.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be cleared.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Clear task instances so that the scheduler runs them again."""
    with make_client(ctx) as client:
        resolved = resolve_run(client, dag_id, execution_date, run_id)
        cleared = client.tasks.clear(
            dag_id,
            dag_run_id=resolved,
            task_ids=task,
            include_downstream=downstream,
            include_upstream=upstream,
            only_failed=only_failed,
            dry_run=dry_run,
        )
    if output != OutputFormat.table:
        emit({"task_instances": cleared, "dry_run": dry_run}, output)
        return
    verb = "Would clear" if dry_run else "Cleared"
    note(f"{verb} {len(cleared)} task instance(s) of {dag_id} / {resolved}.")
    if cleared:
        table(["task id", "run id", "state"], [[t.task_id, t.dag_run_id, t.state] for t in cleared])


@app.command()
@handle_errors
def logs(
    ctx: typer.Context,
    dag_id: DagIdArg,
    task: Annotated[str, typer.Option("--task", help="The task id.", show_default=False)],
    execution_date: DateOption = None,
    run_id: RunIdOption = None,
    try_number: Annotated[int | None, typer.Option("--try", min=1, help="Attempt (default: latest).")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the task finishes.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.2, help="Seconds between checks.")
    ] = 2.0,
) -> None:
    """Print a task's log (with --follow, as it grows)."""
    with make_client(ctx) as client:
        resolved = resolve_run(client, dag_id, execution_date, run_id)
        if not follow:
            typer.echo(client.tasks.get_logs(dag_id, task, resolved, try_number), nl=False)
            return
        _follow(client, dag_id, task, resolved, try_number, poll_interval)


def unseen_lines(seen: list[str], lines: list[str]) -> list[str]:
    """The lines of a fresh copy of a log not printed yet. Usually the log only grew; but Airflow 3
    rewrites its header (where the log is read from) when a task finishes, so the fallback anchors
    on the last line printed, then on lines never seen."""
    if lines[: len(seen)] == seen:
        return lines[len(seen) :]
    if seen and seen[-1] in lines:
        return lines[len(lines) - lines[::-1].index(seen[-1]) :]
    printed = set(seen)
    return [line for line in lines if line not in printed]


def _follow(
    client: PlatformClient,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    poll_interval: float,
) -> None:
    """Print what is new each time; a new attempt starts a new section. Stops once the task is done."""
    seen: dict[int, list[str]] = {}
    while True:
        instance = client.tasks.get_instance(dag_id, run_id, task_id)
        current = try_number or max(instance.try_number or 1, 1)
        try:
            lines = client.tasks.get_logs(dag_id, task_id, run_id, current).splitlines()
        except exc.ResourceNotFoundError:
            lines = []  # no log yet
        if current not in seen and seen:
            note(f"--- attempt {current} ---")
        for line in unseen_lines(seen.get(current, []), lines):
            typer.echo(line)
        seen[current] = lines
        if instance.finished:
            return
        time.sleep(poll_interval)
