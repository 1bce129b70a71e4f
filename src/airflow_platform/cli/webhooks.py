"""``airflow-cli webhooks list|get|create|update|delete|rotate-secret|test|deliveries|delivery|redeliver``."""

from __future__ import annotations

import json
from enum import Enum
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
    console,
    details,
    emit,
    note,
    page_footer,
    table,
)
from airflow_platform.schemas.webhooks import EVENT_TYPES, Delivery, DeliveryDetail, Webhook

app = typer.Typer(
    help=(
        "Webhooks: signed HTTP callbacks on DAG and task events "
        "(the signing secret is shown once, at create and rotate-secret)."
    )
)

SHOWN_ONCE = "The signing secret below is shown only this once; store it now, it is not shown again."


class Status(str, Enum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


WebhookArg = Annotated[str, typer.Argument(help="The webhook's id (wh_…).", show_default=False)]
DeliveryArg = Annotated[str, typer.Argument(help="The delivery's id (msg_…).", show_default=False)]
_EVENTS_HELP = f"Event to send ({', '.join(EVENT_TYPES)}); repeatable or comma-separated."
EventsOption = Annotated[list[str] | None, typer.Option("--event", "-e", help=_EVENTS_HELP)]
DagIdOption = Annotated[
    list[str] | None,
    typer.Option("--dag-id", help="Only events of this DAG (repeatable or comma-separated; none: all)."),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", help="Only DAGs with any of these tags (repeatable or comma-separated)."),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header", "-H", help="NAME=VALUE sent with every delivery (repeatable; values write-only)."
    ),
]
MaxAttemptsOption = Annotated[
    int | None, typer.Option("--max-attempts", min=1, max=10, help="Attempts in all (server default 3).")
]
BackoffOption = Annotated[
    str | None,
    typer.Option("--backoff", help="Seconds before each retry, e.g. 10,30,60 (the last one repeats)."),
]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="What it is for.")]


def split(values: list[str] | None) -> list[str]:
    """Repeatable options that also take ``a,b,c``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def parse_headers(values: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--header")
        result[name.strip()] = value
    return result


def parse_backoff(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use seconds separated by commas, e.g. 10,30,60") from None


def webhook_fields(hook: Webhook) -> dict[str, Any]:
    retry = hook.retry_policy
    return {
        "webhook_id": hook.webhook_id,
        "name": hook.name,
        "description": hook.description,
        "url": hook.url,
        "events": hook.events,
        "dag ids": hook.filters.get("dag_ids") or "all",
        "tags": hook.filters.get("tags") or "any",
        "headers": hook.headers,
        "max attempts": retry.get("max_attempts"),
        "backoff seconds": retry.get("backoff_seconds"),
        "enabled": hook.enabled,
        "tenant": hook.tenant_id,
        "created by": hook.created_by,
        "created": hook.created_at,
        "updated": hook.updated_at,
        "secret rotated": hook.secret_rotated_at,
    }


def delivery_fields(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "webhook_id": delivery.webhook_id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response status": delivery.response_status,
        "error": delivery.error,
        "duration ms": delivery.duration_ms,
        "created": delivery.created_at,
        "last attempt": delivery.last_attempt_at,
        "next attempt": delivery.next_attempt_at,
        "delivered": delivery.delivered_at,
    }


def _secret_once(secret: str, output: OutputFormat) -> None:
    """Stdout gets the secret alone (for ``$(…)``); the warning goes to stderr either way."""
    note(f"[yellow]Warning:[/yellow] {SHOWN_ONCE}")
    if output == OutputFormat.table:
        typer.echo(secret)


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    event: Annotated[
        str | None, typer.Option("--event", "-e", help="Only webhooks sending this event.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled (or disabled) ones.")
    ] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the webhooks you can see (your tenant's; a platform admin's all)."""
    with make_client(ctx) as client:
        page = client.webhooks.list(event=event, enabled=enabled, limit=limit, offset=offset)
        hooks = list(page) if all_pages else page.webhooks
    if output != OutputFormat.table:
        emit({"webhooks": hooks, "total": page.total_entries}, output)
        return
    rows = [[h.webhook_id, h.name, h.url, h.events, h.enabled, h.tenant_id, h.updated_at] for h in hooks]
    table(["webhook id", "name", "url", "events", "enabled", "tenant", "updated"], rows)
    if not all_pages:
        page_footer(len(hooks), offset, page.total_entries, "webhooks")


@app.command()
@handle_errors
def get(ctx: typer.Context, webhook_id: WebhookArg, output: OutputOption = OutputFormat.table) -> None:
    """Show one webhook (header values as ***, never the secret)."""
    with make_client(ctx) as client:
        hook = client.webhooks.get(webhook_id)
    emit(hook, output) if output != OutputFormat.table else details(webhook_fields(hook), title=hook.name)


@app.command()
@handle_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the webhook is for.", show_default=False)],
    url: Annotated[
        str, typer.Option("--url", help="http(s) URL; must resolve to public addresses.", show_default=False)
    ],
    event: Annotated[list[str], typer.Option("--event", "-e", help=_EVENTS_HELP, show_default=False)],
    dag_id: DagIdOption = None,
    tag: TagOption = None,
    header: HeaderOption = None,
    max_attempts: MaxAttemptsOption = None,
    backoff: BackoffOption = None,
    disable: Annotated[bool, typer.Option("--disable", help="Create it disabled (sends nothing).")] = False,
    description: DescriptionOption = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", "--tenant-id", help="Owner tenant (platform admins; default: yours)."),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a webhook and print its signing secret, once."""
    dag_ids, tags, backoff_seconds = split(dag_id), split(tag), parse_backoff(backoff)
    filters = {"dag_ids": dag_ids, "tags": tags} if dag_ids or tags else None
    retry: dict[str, Any] = {}
    if max_attempts is not None:
        retry["max_attempts"] = max_attempts
    if backoff_seconds is not None:
        retry["backoff_seconds"] = backoff_seconds
    with make_client(ctx) as client:
        created = client.webhooks.create(
            name=name,
            url=url,
            events=split(event),
            filters=filters,
            headers=parse_headers(header) or None,
            retry_policy=retry or None,
            enabled=not disable,
            description=description,
            tenant_id=tenant,
        )
    if output != OutputFormat.table:
        emit(created, output)
    else:
        note(f"Created webhook {created.webhook_id}.")
        details(webhook_fields(created), title=created.name)
    _secret_once(created.secret, output)


@app.command()
@handle_errors
def update(
    ctx: typer.Context,
    webhook_id: WebhookArg,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="A new URL (checked like at create).")] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help=f"Replaces the events. {_EVENTS_HELP}")
    ] = None,
    dag_id: DagIdOption = None,
    tag: TagOption = None,
    clear_filters: Annotated[
        bool, typer.Option("--clear-filters", help="Send events of every DAG again.")
    ] = False,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="NAME=VALUE; replaces all headers (repeatable)."),
    ] = None,
    clear_headers: Annotated[
        bool, typer.Option("--clear-headers", help="Remove every custom header.")
    ] = False,
    max_attempts: MaxAttemptsOption = None,
    backoff: BackoffOption = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Start or stop sending.")] = None,
    description: DescriptionOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Change a webhook: only what is given changes (--dag-id/--tag replace that list of the filters)."""
    if clear_filters and (dag_id or tag):
        raise typer.BadParameter("--clear-filters cannot go with --dag-id or --tag")
    if clear_headers and header:
        raise typer.BadParameter("--clear-headers cannot go with --header")
    fields: dict[str, Any] = {"name": name, "url": url, "enabled": enabled, "description": description}
    fields = {key: value for key, value in fields.items() if value is not None}
    if event:
        fields["events"] = split(event)
    if header or clear_headers:
        fields["headers"] = parse_headers(header)
    dag_ids, tags, backoff_seconds = split(dag_id) or None, split(tag) or None, parse_backoff(backoff)
    if not (fields or clear_filters or dag_ids or tags or max_attempts or backoff_seconds):
        raise typer.BadParameter("nothing to change: give at least one option (see --help)")
    with make_client(ctx) as client:
        # The API replaces filters and retry_policy as a whole: keep the part not given as it is.
        current = None
        if (dag_ids is None) != (tags is None) or (max_attempts is None) != (backoff_seconds is None):
            current = client.webhooks.get(webhook_id)
        if clear_filters:
            fields["filters"] = {"dag_ids": [], "tags": []}
        elif dag_ids is not None or tags is not None:
            old = current.filters if current else {}
            fields["filters"] = {
                "dag_ids": dag_ids or old.get("dag_ids", []),
                "tags": tags or old.get("tags", []),
            }
        if max_attempts is not None or backoff_seconds is not None:
            old_retry = current.retry_policy if current else {}
            fields["retry_policy"] = {
                "max_attempts": max_attempts or old_retry.get("max_attempts", 3),
                "backoff_seconds": backoff_seconds or old_retry.get("backoff_seconds", [10, 30, 60]),
            }
        hook = client.webhooks.update(webhook_id, **fields)
    if output != OutputFormat.table:
        emit(hook, output)
        return
    note(f"Updated webhook {hook.webhook_id}.")
    details(webhook_fields(hook), title=hook.name)


@app.command()
@handle_errors
def delete(
    ctx: typer.Context,
    webhook_id: WebhookArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Delete a webhook and its delivery log."""
    confirm(f"delete webhook {webhook_id} and its delivery log", yes)
    with make_client(ctx) as client:
        client.webhooks.delete(webhook_id)
    emit({"deleted": webhook_id}, output) if output != OutputFormat.table else note(
        f"Deleted webhook {webhook_id}."
    )


@app.command("rotate-secret")
@handle_errors
def rotate_secret(
    ctx: typer.Context, webhook_id: WebhookArg, output: OutputOption = OutputFormat.table
) -> None:
    """Give a webhook a new signing secret; the old one also signs until it expires."""
    with make_client(ctx) as client:
        rotated = client.webhooks.rotate_secret(webhook_id)
    if output != OutputFormat.table:
        emit(rotated, output)
    else:
        details(
            {"webhook_id": rotated.webhook_id, "previous secret expires": rotated.previous_secret_expires_at},
            title="Secret rotated",
        )
    _secret_once(rotated.secret, output)


@app.command("test")
@handle_errors
def check(ctx: typer.Context, webhook_id: WebhookArg, output: OutputOption = OutputFormat.table) -> None:
    """Send a webhook.test event now and show how it went (exit 1 when it failed)."""
    with make_client(ctx) as client:
        result = client.webhooks.test(webhook_id)
    if output != OutputFormat.table:
        emit(result, output)
    else:
        details(delivery_fields(result), title=f"Test of {webhook_id}: {result.status}")
    if result.status != "succeeded":
        raise typer.Exit(1)


@app.command()
@handle_errors
def deliveries(
    ctx: typer.Context,
    webhook_id: WebhookArg,
    status: Annotated[
        Status | None, typer.Option("--status", "-s", help="Only deliveries in this state.")
    ] = None,
    event: Annotated[str | None, typer.Option("--event", "-e", help="Only this event.")] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    all_pages: AllPagesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """A webhook's delivery log, newest first."""
    with make_client(ctx) as client:
        page = client.webhooks.deliveries(
            webhook_id,
            status=status.value if status else None,
            event=event,
            limit=limit,
            offset=offset,
        )
        items = list(page) if all_pages else page.deliveries
    if output != OutputFormat.table:
        emit({"deliveries": items, "total": page.total_entries}, output)
        return
    rows = [
        [
            d.delivery_id,
            d.event,
            d.status,
            d.attempts,
            d.response_status,
            d.error,
            d.created_at,
            d.next_attempt_at,
        ]
        for d in items
    ]
    table(
        ["delivery id", "event", "status", "attempts", "response", "error", "created", "next attempt"], rows
    )
    if not all_pages:
        page_footer(len(items), offset, page.total_entries, "deliveries")


def _show_detail(detail: DeliveryDetail) -> None:
    details(delivery_fields(detail), title=detail.delivery_id)
    attempts = [[a.attempt, a.at, a.response_status, a.error, a.duration_ms] for a in detail.attempt_log]
    if attempts:
        table(["attempt", "at", "response", "error", "duration ms"], attempts, title="Attempts")
    console.print("Payload", style="bold")
    typer.echo(json.dumps(detail.payload, indent=2, default=str))


@app.command()
@handle_errors
def delivery(
    ctx: typer.Context,
    webhook_id: WebhookArg,
    delivery_id: DeliveryArg,
    output: OutputOption = OutputFormat.table,
) -> None:
    """One delivery: its payload and every attempt."""
    with make_client(ctx) as client:
        detail = client.webhooks.delivery(webhook_id, delivery_id)
    emit(detail, output) if output != OutputFormat.table else _show_detail(detail)


@app.command()
@handle_errors
def redeliver(
    ctx: typer.Context,
    webhook_id: WebhookArg,
    delivery_id: DeliveryArg,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Send a delivery again, with the same webhook-id (receivers dedupe on it) and a new attempt budget."""
    with make_client(ctx) as client:
        again = client.webhooks.redeliver(webhook_id, delivery_id)
    if output != OutputFormat.table:
        emit(again, output)
        return
    note(f"Queued {again.delivery_id} to be sent again.")
    details(delivery_fields(again), title=again.delivery_id)
