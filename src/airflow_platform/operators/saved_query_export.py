"""``SavedQueryExportOperator``: the task of a scheduled saved query's DAG.

It runs the saved query as its spec file describes it (read-only guard, the tenant's schemas,
declared parameters with their defaults and the run's dates) and writes one file per run to the
destination. No metadata-DB access: the spec comes inline from the DAG factory, connections
through ``BaseHook.get_connection``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_platform import compat
from airflow_platform.exceptions import PlatformError

if TYPE_CHECKING:
    from airflow.models.baseoperator import BaseOperator

    from airflow_platform.exports.run import Export
else:
    BaseOperator = compat.base_operator()


class SavedQueryExportOperator(BaseOperator):
    """Run a saved query and write its rows as csv, parquet or json to the spec's destination.

    :param spec: The export spec (``exports.specs``): query, database, allowed_schemas, parameters,
        output_format, destination, slug, tenant_id.
    """

    ui_color = "#e8eef8"

    def __init__(self, *, spec: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = dict(spec)
        self._export: Export | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_platform.exports.run import Export, export, run_dates

        task_failed, task_failed_for_good = compat.task_exceptions()
        dates = run_dates(context)
        self.log.info(
            "Saved query %r (%s) on %s for %s → %s",
            self.spec.get("name"),
            self.spec.get("saved_query_id"),
            self.spec.get("database") or "warehouse",
            dates.run_date.isoformat(),
            self.spec.get("destination"),
        )
        self._export = Export()
        try:
            written = export(self.spec, dates, self._export)
        except PlatformError as e:
            # A refused query, a bad parameter or destination will fail the same way again.
            failed = task_failed_for_good if 400 <= e.status < 500 else task_failed
            raise failed(f"{e.code}: {e.message}") from None
        finally:
            self._export = None
        self.log.info("Wrote %s rows (%s bytes) to %s", written["rows"], written["bytes"], written["uri"])
        return written

    def on_kill(self) -> None:
        current = self._export
        if current is not None and current.cancel():
            self.log.info("Stopped the export's query")
