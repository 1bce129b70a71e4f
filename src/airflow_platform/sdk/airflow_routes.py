"""Which request each DAG/task operation needs on Airflow 2.11 (``/api/v1``) and Airflow 3 (``/api/v2``).

Only the *requests* differ here (paths, parameter names, bodies, the log format): the answers are
brought to one shape by :mod:`airflow_platform.schemas.airflow`. Operations ask ``routes.<verb>(...)``
for a :class:`Call` and never test the version themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from airflow_platform.exceptions import UnsupportedFeatureError
from airflow_platform.schemas.airflow import BackfillCreate, DAGRunTrigger, TaskInstancesClear
from airflow_platform.sdk.calls import Call, drop_none
from airflow_platform.sdk.dates import iso


def seg(value: str) -> str:
    """One path segment: run ids carry ``:`` and ``+`` (``scheduled__2024-01-15T00:00:00+00:00``)."""
    return quote(str(value), safe="")


def major_of(airflow_version: str) -> int:
    digits = airflow_version.strip().split(".")[0]
    return int(digits) if digits.isdigit() else 3


class AirflowRoutes:
    """The requests common to both APIs; subclasses override what differs."""

    major: int = 3
    prefix: str = "/api/v2"

    def __init__(self, airflow_version: str) -> None:
        self.airflow_version = airflow_version

    # --- DAGs --------------------------------------------------------------------------------

    def dag_path(self, dag_id: str) -> str:
        return f"{self.prefix}/dags/{seg(dag_id)}"

    def list_dags(
        self,
        *,
        tags: list[str] | None,
        only_active: bool,
        paused: bool | None,
        dag_id_pattern: str | None,
        order_by: str | None,
        limit: int,
        offset: int,
    ) -> Call:
        params = {
            "limit": limit,
            "offset": offset,
            "tags": tags or None,
            "paused": paused,
            "dag_id_pattern": dag_id_pattern,
            "order_by": order_by,
            **self._active(only_active),
        }
        return Call("GET", f"{self.prefix}/dags", params=drop_none(params))

    def _active(self, only_active: bool) -> dict[str, Any]:
        return {"exclude_stale": only_active}

    def get_dag(self, dag_id: str) -> Call:
        return Call("GET", self.dag_path(dag_id))

    def set_paused(self, dag_id: str, paused: bool) -> Call:
        # Setting a flag is idempotent, so it is retried like a GET despite being a PATCH.
        return Call(
            "PATCH",
            self.dag_path(dag_id),
            params={"update_mask": "is_paused"},
            json={"is_paused": paused},
            idempotent=True,
        )

    # --- runs --------------------------------------------------------------------------------

    def trigger(self, dag_id: str, body: DAGRunTrigger) -> Call:
        return Call("POST", f"{self.dag_path(dag_id)}/dagRuns", json=self._trigger_body(body))

    def _trigger_body(self, body: DAGRunTrigger) -> dict[str, Any]:
        # Airflow 3 requires the key (null: a run without a logical date, run_after = now).
        return {"logical_date": None, **body.model_dump(mode="json", exclude_none=True)}

    def list_runs(
        self,
        dag_id: str,
        *,
        state: list[str] | None,
        logical_date_gte: datetime | None,
        logical_date_lte: datetime | None,
        order_by: str | None,
        newest_first: bool,
        limit: int,
        offset: int,
    ) -> Call:
        if newest_first and order_by is None:
            order_by = self._newest_first
        params = {
            "limit": limit,
            "offset": offset,
            "state": state or None,
            "order_by": order_by,
            self._date_filter + "_gte": iso(logical_date_gte),
            self._date_filter + "_lte": iso(logical_date_lte),
        }
        return Call("GET", f"{self.dag_path(dag_id)}/dagRuns", params=drop_none(params))

    _date_filter = "logical_date"
    #: Runs without a logical date (Airflow 3 manual runs) still have ``run_after``.
    _newest_first = "-run_after"

    def get_run(self, dag_id: str, dag_run_id: str) -> Call:
        return Call("GET", f"{self.dag_path(dag_id)}/dagRuns/{seg(dag_run_id)}")

    def backfill(self, body: BackfillCreate) -> Call:
        return Call("POST", f"{self.prefix}/backfills", json=body.model_dump(mode="json", exclude_none=True))

    # --- tasks -------------------------------------------------------------------------------

    def list_tasks(self, dag_id: str) -> Call:
        return Call("GET", f"{self.dag_path(dag_id)}/tasks")

    def get_task(self, dag_id: str, task_id: str) -> Call:
        return Call("GET", f"{self.dag_path(dag_id)}/tasks/{seg(task_id)}")

    def _ti_path(self, dag_id: str, dag_run_id: str, task_id: str | None = None) -> str:
        path = f"{self.dag_path(dag_id)}/dagRuns/{seg(dag_run_id)}/taskInstances"
        return path if task_id is None else f"{path}/{seg(task_id)}"

    def list_task_instances(
        self, dag_id: str, dag_run_id: str, *, state: list[str] | None, limit: int, offset: int
    ) -> Call:
        params = drop_none({"limit": limit, "offset": offset, "state": state or None})
        return Call("GET", self._ti_path(dag_id, dag_run_id), params=params)

    def get_task_instance(self, dag_id: str, dag_run_id: str, task_id: str, map_index: int = -1) -> Call:
        path = self._ti_path(dag_id, dag_run_id, task_id)
        return Call("GET", path if map_index < 0 else f"{path}/{map_index}")

    def clear(self, dag_id: str, body: TaskInstancesClear) -> Call:
        return Call(
            "POST",
            f"{self.dag_path(dag_id)}/clearTaskInstances",
            json=body.model_dump(mode="json", exclude_none=True),
        )

    def logs(self, dag_id: str, dag_run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Call:
        path = f"{self._ti_path(dag_id, dag_run_id, task_id)}/logs/{try_number}"
        params = drop_none({"full_content": "true", "map_index": map_index if map_index >= 0 else None})
        return Call("GET", path, params=params)

    def decode_logs(self, body: Any) -> str:
        """Airflow 3 answers structured messages; join them into the lines a person reads."""
        content = body.get("content", "") if isinstance(body, dict) else body
        if isinstance(content, str):
            return content
        return "\n".join(_log_line(item) for item in content or []) + ("\n" if content else "")


def _log_line(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    event = str(item.get("event", ""))
    parts = []
    if item.get("timestamp"):
        parts.append(f"[{item['timestamp']}]")
    if item.get("level"):
        parts.append(str(item["level"]).upper())
    if item.get("logger"):
        parts.append(f"{{{item['logger']}}}")
    line = " ".join(parts)
    line = f"{line} - {event}" if line else event
    if item.get("sources"):
        line += "\n" + "\n".join(f"  {source}" for source in item["sources"])
    return line


class AirflowV1Routes(AirflowRoutes):
    """Airflow 2.11: ``/api/v1``; ``only_active``, ``execution_date_*``, logs as text, no backfill."""

    major = 2
    prefix = "/api/v1"
    _date_filter = "execution_date"
    _newest_first = "-execution_date"

    def _active(self, only_active: bool) -> dict[str, Any]:
        return {"only_active": only_active}

    def _trigger_body(self, body: DAGRunTrigger) -> dict[str, Any]:
        return body.model_dump(mode="json", exclude_none=True)

    def backfill(self, body: BackfillCreate) -> Call:
        raise UnsupportedFeatureError(
            "Backfill is not available over Airflow 2's REST API (Airflow 2.11 has no backfill endpoint). "
            f"Run `airflow dags backfill {body.dag_id} -s START -e END` on the Airflow host, "
            "or use Airflow 3.",
            details={"airflow_version": self.airflow_version, "dag_id": body.dag_id},
        )

    def logs(self, dag_id: str, dag_run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Call:
        call = super().logs(dag_id, dag_run_id, task_id, try_number, map_index)
        # Airflow 2's JSON answer is a Python repr of (host, text) tuples; its text/plain is the log.
        return Call("GET", call.path, params=call.params, expect="text", accept="text/plain")

    def decode_logs(self, body: Any) -> str:
        return body if isinstance(body, str) else super().decode_logs(body)


def routes_for(airflow_version: str) -> AirflowRoutes:
    if major_of(airflow_version) < 3:
        return AirflowV1Routes(airflow_version)
    return AirflowRoutes(airflow_version)
