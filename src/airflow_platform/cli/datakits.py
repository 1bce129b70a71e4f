"""``airflow-cli datakits list|get|register|deploy|status|deployments|rollback|undeploy|delete-version``.

Deployments are named the way people think of them, by kit and ``--environment``; the CLI finds
the deployment's id (its DAG id) from the kit's deployments.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from airflow_platform import exceptions as exc
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
    err_console,
    note,
    page_footer,
    table,
)
from airflow_platform.schemas.datakits import DataKit, Deployment, DeploymentStatus
from airflow_platform.sdk.client import PlatformClient

app = typer.Typer(help="DataKits: register versioned container images, deploy them as scheduled DAGs.")

NameArg = Annotated[str, typer.Argument(help="The DataKit's name (its id).", show_default=False)]
EnvironmentOption = Annotated[str, typer.Option("--environment", "-e", help="The deployment's environment.")]


class Runtime(str, Enum):
    docker = "docker"
    kubernetes = "kubernetes"


def config_pairs(values: list[str] | None) -> dict[str, Any]:
    """``--config key=value``: the value is JSON when it parses (5000, true, [1]), else a string."""
    result: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--config")
        try:
            result[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            result[key.strip()] = raw
    return result


def parse_configuration(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not valid JSON: {error.msg}", param_hint="--configuration") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--configuration")
    return parsed


def split_tags(values: list[str] | None) -> list[str] | None:
    """``--tag a --tag b`` and ``--tag a,b`` both work."""
    tags = [t.strip() for value in values or [] for t in value.split(",") if t.strip()]
    return tags or None


def kit_fields(kit: DataKit) -> dict[str, Any]:
    return {
        "name": kit.name,
        "version": kit.version,
        "latest version": kit.latest_version,
        "type": kit.type,
        "description": kit.description,
        "image": kit.image,
        "inputs": [f"{p.get('schema', '?')}.{p.get('name')}" for p in kit.inputs],
        "outputs": [f"{p.get('schema', '?')}.{p.get('name')}" for p in kit.outputs],
        "configuration": {key: spec.get("default") for key, spec in kit.configuration.items()},
        "requirements": kit.requirements,
        "tags": kit.tags,
        "tenant": kit.tenant_id,
        "created by": kit.created_by,
        "updated": kit.updated_at,
    }


def deployment_fields(deployment: Deployment) -> dict[str, Any]:
    return {
        "id": deployment.id,
        "datakit": deployment.datakit,
        "version": deployment.version,
        "environment": deployment.environment,
        "schedule": deployment.schedule,
        "runtime": deployment.runtime,
        "paused": deployment.paused,
        "configuration": deployment.configuration,
        "notifications": {k: v for k, v in deployment.notifications.items() if v},
        "tenant": deployment.tenant_id,
        "updated": deployment.updated_at,
    }


def last_run_state(status: DeploymentStatus) -> str | None:
    """The newest run's state, whatever order the server lists runs in."""
    dated = [(run.logical_date or run.start_date, run.state) for run in status.last_runs]
    known = [(when, state) for when, state in dated if when is not None]
    if known:
        return max(known, key=lambda pair: pair[0])[1]
    return dated[0][1] if dated else None


def status_fields(status: DeploymentStatus) -> dict[str, Any]:
    fields = deployment_fields(status)
    fields.update(
        status=status.status,
        paused=status.is_paused if status.is_paused is not None else status.paused,
        **{"last run": last_run_state(status), "next run": status.next_run},
    )
    if status.import_error:
        fields["import error"] = status.import_error
    return fields


def find_deployment(client: PlatformClient, name: str, environment: str) -> Deployment:
    for deployment in client.datakits.list_deployments(name):
        if deployment.environment == environment:
            return deployment
    raise exc.ResourceNotFoundError(
        f"DataKit {name} has no deployment in environment {environment!r}.",
        details={"datakit": name, "environment": environment},
    )


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    kit_type: Annotated[
        str | None, typer.Option("--type", help="transformation, ingestion, export or quality.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "--tags", help="Only kits with this tag (repeatable).")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", help="In name and description.")] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the DataKits you can see (each at its latest version)."""
    with make_client(ctx) as client:
        page = client.datakits.list(
            type=kit_type, tags=split_tags(tag), search=search, limit=limit, offset=offset
        )
        kits = list(page) if all_pages else page.datakits
    if output != OutputFormat.table:
        emit({"datakits": kits, "total_entries": page.total_entries}, output)
        return
    rows = [[k.name, k.latest_version, k.type, k.image, k.tags, k.description] for k in kits]
    table(["name", "latest", "type", "image", "tags", "description"], rows)
    if not all_pages:
        page_footer(len(kits), offset, page.total_entries, "DataKits")


@app.command()
@handle_errors
def get(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[str | None, typer.Option("--version", help="This version's manifest.")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show a DataKit's manifest and every registered version."""
    with make_client(ctx) as client:
        kit = client.datakits.get(name, version=version)
    if output != OutputFormat.table:
        emit(kit, output)
        return
    details(kit_fields(kit), title=f"{kit.name} {kit.version}")
    if kit.versions:
        rows = [[v.version, v.image, v.created_by, v.created_at, v.deployments] for v in kit.versions]
        table(["version", "image", "by", "registered", "deployed in"], rows, title="Versions")


@app.command()
@handle_errors
def register(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Option("--file", "-f", help="datakit.yaml (YAML or JSON).", show_default=False)
    ],
    image: Annotated[str | None, typer.Option("--image", help="Use this image instead.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Use this version instead.")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Register a DataKit version from its manifest file."""
    with make_client(ctx) as client:
        kit = client.datakits.register_file(file, image=image, version=version)
    if output != OutputFormat.table:
        emit(kit, output)
        return
    note(f"Registered {kit.name} {kit.version}.")
    details(kit_fields(kit), title=f"{kit.name} {kit.version}")


@app.command()
@handle_errors
def deploy(
    ctx: typer.Context,
    name: NameArg,
    environment: EnvironmentOption = "production",
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Cron expression or preset (@daily); none: manual runs.")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Default: the latest.")] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", help="key=value, the value as JSON if it parses (repeatable)."),
    ] = None,
    configuration: Annotated[
        str | None, typer.Option("--configuration", help="The configuration as a JSON object.")
    ] = None,
    runtime: Annotated[Runtime | None, typer.Option("--runtime", case_sensitive=False)] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Kubernetes namespace.")] = None,
    on_success: Annotated[
        list[str] | None, typer.Option("--notify-success", help="E-mail on success (repeatable).")
    ] = None,
    on_failure: Annotated[
        list[str] | None, typer.Option("--notify-failure", help="E-mail on failure (repeatable).")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Deploy with the DAG paused.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until Airflow has parsed the DAG.")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=1, help="Seconds.")] = 120.0,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.1, help="Seconds.")] = 2.0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Deploy a DataKit to an environment (again: update that environment's deployment)."""
    merged = {**parse_configuration(configuration), **config_pairs(config)}
    notifications = {k: v for k, v in (("on_success", on_success), ("on_failure", on_failure)) if v}
    with make_client(ctx) as client:
        deployment: Deployment = client.datakits.deploy(
            name,
            environment=environment,
            version=version,
            schedule=schedule,
            configuration=merged or None,
            notifications=notifications or None,
            namespace=namespace,
            runtime=runtime.value if runtime else None,
            paused=paused or None,
        )
        if output == OutputFormat.table:
            note(f"Deployed {name} {deployment.version} to {environment} (DAG {deployment.dag_id}).")
        if wait:
            with err_console.status(f"Waiting for Airflow to parse {deployment.dag_id}…") as spinner:
                deployment = client.datakits.wait_for_deployment(
                    deployment.id,
                    timeout=wait_timeout,
                    poll_interval=poll_interval,
                    on_poll=lambda s: spinner.update(f"{s.dag_id}: {s.status}"),
                )
    if output != OutputFormat.table:
        emit(deployment, output)
        return
    fields = (
        status_fields(deployment)
        if isinstance(deployment, DeploymentStatus)
        else deployment_fields(deployment)
    )
    details(fields, title=deployment.id)
    if isinstance(deployment, DeploymentStatus) and deployment.status == "import_error":
        raise typer.Exit(1)


@app.command()
@handle_errors
def status(
    ctx: typer.Context,
    name: NameArg,
    environment: Annotated[
        str | None, typer.Option("--environment", "-e", help="Only this environment's deployment.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """A DataKit's deployments and what Airflow says about each (or one environment's, in detail)."""
    with make_client(ctx) as client:
        if environment is not None:
            one = client.datakits.get_deployment_status(find_deployment(client, name, environment).id)
            emit(one, output) if output != OutputFormat.table else details(status_fields(one), title=one.id)
            return
        statuses = [
            client.datakits.get_deployment_status(d.id) for d in client.datakits.list_deployments(name)
        ]
    if output != OutputFormat.table:
        emit({"deployments": statuses, "total_entries": len(statuses)}, output)
        return
    if not statuses:
        # A kit that does not exist answered 404 above; this one exists but runs nowhere.
        note(f"{name} is not deployed anywhere.")
        return
    rows = [
        [s.environment, s.status, s.is_paused if s.is_paused is not None else s.paused, s.version,
         last_run_state(s), s.next_run, s.schedule, s.id]
        for s in statuses
    ]  # fmt: skip
    table(["environment", "status", "paused", "version", "last run", "next run", "schedule", "DAG id"], rows)


@app.command()
@handle_errors
def deployments(
    ctx: typer.Context,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Every deployment you can see, of every DataKit."""
    with make_client(ctx) as client:
        page = client.datakits.list_deployments(limit=limit, offset=offset)
        found = list(page) if all_pages else page.deployments
    if output != OutputFormat.table:
        emit({"deployments": found, "total_entries": page.total_entries}, output)
        return
    rows = [[d.datakit, d.environment, d.version, d.schedule, d.paused, d.tenant_id, d.id] for d in found]
    table(["datakit", "environment", "version", "schedule", "paused", "tenant", "DAG id"], rows)
    if not all_pages:
        page_footer(len(found), offset, page.total_entries, "deployments")


@app.command()
@handle_errors
def rollback(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[
        str, typer.Option("--version", help="An earlier registered version.", show_default=False)
    ],
    environment: EnvironmentOption = "production",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Run an earlier version in an environment again."""
    with make_client(ctx) as client:
        deployment = client.datakits.rollback(name, version=version, environment=environment)
    if output != OutputFormat.table:
        emit(deployment, output)
        return
    note(f"Rolled {name} back to {deployment.version} in {deployment.environment}.")
    details(deployment_fields(deployment), title=deployment.id)


@app.command()
@handle_errors
def undeploy(
    ctx: typer.Context,
    name: NameArg,
    environment: Annotated[
        str, typer.Option("--environment", "-e", help="The deployment's environment.", show_default=False)
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Remove a DataKit's deployment from an environment (its DAG goes away)."""
    with make_client(ctx) as client:
        deployment = find_deployment(client, name, environment)
        confirm(f"undeploy {name} from {environment} (DAG {deployment.dag_id})", yes)
        client.datakits.undeploy(deployment.id)
    if output != OutputFormat.table:
        emit({"undeployed": deployment.id}, output)
    else:
        note(f"Undeployed {name} from {environment}.")


@app.command("delete-version")
@handle_errors
def delete_version(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[str, typer.Argument(help="The version to delete.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Delete one registered version (refused while a deployment runs it)."""
    confirm(f"delete {name} {version}", yes)
    with make_client(ctx) as client:
        client.datakits.delete_version(name, version)
    if output != OutputFormat.table:
        emit({"deleted": {"datakit": name, "version": version}}, output)
    else:
        note(f"Deleted {name} {version}.")
