"""``airflow-cli health``."""

from __future__ import annotations

import typer

from airflow_platform.cli.context import make_client
from airflow_platform.cli.errors import handle_errors
from airflow_platform.cli.output import OutputFormat, OutputOption, emit, table


@handle_errors
def health(ctx: typer.Context, output: OutputOption = OutputFormat.table) -> None:
    """Is the server up? Versions, metadata DB and warehouse (exit 1 when unhealthy)."""
    with make_client(ctx) as client:
        report = client.health()
    if output != OutputFormat.table:
        emit(report, output)
        return
    table(
        ["component", "status", "detail"],
        [
            [
                "platform",
                report.status,
                f"airflow-platform {report.version}, Airflow {report.airflow_version}",
            ],
            [
                "metadata DB",
                report.metadata_db.status,
                report.metadata_db.detail or report.metadata_db.dialect,
            ],
            ["warehouse", report.warehouse.status, report.warehouse.detail or report.warehouse.engine],
        ],
    )
