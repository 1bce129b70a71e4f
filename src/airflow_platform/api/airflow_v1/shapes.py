"""Airflow 2 ``/api/v1`` ↔ Airflow 3 ``/api/v2``: which v2 call a v1 call becomes, and the v1 answer.

Pure functions over JSON values, no Airflow import, so every mapping is unit-tested on its own.
The v1 shapes are those of Airflow 2.11's OpenAPI document (``api_connexion/openapi/v1.yaml``),
which ``apache-airflow-client`` 2.x checks field by field: non-nullable strings stay strings,
enums stay within v1's values, and fields v2 dropped get the value Airflow 2 reported for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

V1_PREFIX = "/api/v1"
V2_PREFIX = "/api/v2"

#: The reference's calls (api-reference.md "DAG/Task/DAG Run Operations", the SDK's clear and logs),
#: plus the reads a v1 client needs to follow them (one run, one task, a run's task instances).
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/dags", "list_dags"),
    ("GET", "/dags/{dag_id}", "get_dag"),
    ("PATCH", "/dags/{dag_id}", "patch_dag"),
    ("GET", "/dags/{dag_id}/dagRuns", "list_runs"),
    ("POST", "/dags/{dag_id}/dagRuns", "trigger_run"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", "get_run"),
    ("DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}", "delete_run"),
    ("GET", "/dags/{dag_id}/tasks", "list_tasks"),
    ("GET", "/dags/{dag_id}/tasks/{task_id}", "get_task"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", "list_task_instances"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "get_task_instance"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "patch_task_instance"),
    ("POST", "/dags/{dag_id}/clearTaskInstances", "clear_task_instances"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}", "get_log"),
)


class V1Error(Exception):
    """An answer in Airflow 2's problem JSON (RFC 7807), the error body v1 clients know."""

    def __init__(self, status: int, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
}
#: Airflow 2's problem ``type`` anchors in its REST API reference.
_TYPES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "PermissionDenied",
    404: "NotFound",
    409: "AlreadyExists",
}
_PROBLEM_BASE = (
    "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/"
)


def problem(status: int, detail: str, title: str | None = None) -> dict[str, Any]:
    return {
        "detail": detail,
        "status": status,
        "title": title or _TITLES.get(status, "Error"),
        "type": _PROBLEM_BASE + _TYPES.get(status, "Unknown"),
    }


# --- routing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    op: str
    params: dict[str, str]


def _split(template: str) -> list[str]:
    return template.strip("/").split("/")


_COMPILED = [(method, _split(template), op) for method, template, op in ROUTES]


def match(method: str, path: str) -> Match | str | None:
    """The operation for ``path`` (relative to ``/api/v1``); ``"method"`` when only the method is
    wrong; None when the path is not one of the facade's."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    path_known = False
    for route_method, template, op in _COMPILED:
        if len(template) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(template, parts, strict=True):
            if want.startswith("{"):
                if not got:
                    break
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            path_known = True
            if route_method == method.upper():
                return Match(op, params)
    return "method" if path_known else None


# --- the v2 call a v1 call becomes --------------------------------------------------------------


@dataclass
class V2Call:
    method: str
    path: str  # under /api/v2, segments already quoted
    query: list[tuple[str, str]] = field(default_factory=list)
    body: dict[str, Any] | None = None


def seg(value: str) -> str:
    return quote(value, safe="")


def _dag(params: dict[str, str]) -> str:
    return f"{V2_PREFIX}/dags/{seg(params['dag_id'])}"


def _run(params: dict[str, str]) -> str:
    return f"{_dag(params)}/dagRuns/{seg(params['dag_run_id'])}"


def _ti(params: dict[str, str]) -> str:
    return f"{_run(params)}/taskInstances/{seg(params['task_id'])}"


def _rename(
    query: list[tuple[str, str]], names: dict[str, str], drop: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    return [(names.get(k, k), v) for k, v in query if k not in drop]


#: v1 filter/sort names whose v2 name differs (``execution_date`` is ``logical_date`` in Airflow 3).
_DATE_NAMES = {"execution_date_gte": "logical_date_gte", "execution_date_lte": "logical_date_lte"}


def _order_by(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for k, v in query:
        if k == "order_by":
            desc = v.startswith("-")
            name = v.lstrip("-")
            name = "logical_date" if name == "execution_date" else name
            v = ("-" if desc else "") + name
        out.append((k, v))
    return out


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def plan(op: str, params: dict[str, str], query: list[tuple[str, str]], body: Any) -> V2Call:
    """The v2 request for a v1 request; raises :class:`V1Error` for bodies v1 would refuse."""
    # ``fields`` (v1's ReturnFields) is applied to the answer, not sent on.
    query = [(k, v) for k, v in query if k != "fields"]
    if op == "list_dags":
        mapped = []
        for k, v in _rename(query, {"only_active": "exclude_stale"}):
            mapped.append((k, "true" if k == "exclude_stale" and _bool(v) else v))
        return V2Call("GET", f"{V2_PREFIX}/dags", _order_by(mapped))
    if op == "get_dag":
        return V2Call("GET", _dag(params))
    if op == "patch_dag":
        data = _object(body)
        if "is_paused" not in data:
            raise V1Error(
                400, "Only `is_paused` field can be updated through the REST API", "Invalid request"
            )
        return V2Call("PATCH", _dag(params), query, {"is_paused": data["is_paused"]})
    if op == "list_runs":
        return V2Call("GET", f"{_dag(params)}/dagRuns", _order_by(_rename(query, _DATE_NAMES)))
    if op == "trigger_run":
        return V2Call("POST", f"{_dag(params)}/dagRuns", body=trigger_body(_object(body)))
    if op == "get_run":
        return V2Call("GET", _run(params))
    if op == "delete_run":
        return V2Call("DELETE", _run(params))
    if op == "list_tasks":
        return V2Call("GET", f"{_dag(params)}/tasks", _order_by(query))
    if op == "get_task":
        return V2Call("GET", f"{_dag(params)}/tasks/{seg(params['task_id'])}")
    if op == "list_task_instances":
        return V2Call("GET", f"{_run(params)}/taskInstances", _order_by(_rename(query, _DATE_NAMES)))
    if op == "get_task_instance":
        return V2Call("GET", _ti(params))
    if op == "patch_task_instance":
        data = _object(body)
        if not data.get("new_state"):
            raise V1Error(400, "'new_state' is a required property", "Invalid request")
        # v1's default is a dry run (UpdateTaskInstance.dry_run: default true).
        dry_run = data.get("dry_run", True)
        path = _ti(params) + ("/dry_run" if dry_run else "")
        return V2Call("PATCH", path, body={"new_state": data["new_state"]})
    if op == "clear_task_instances":
        return V2Call("POST", f"{_dag(params)}/clearTaskInstances", body=clear_body(_object(body)))
    if op == "get_log":
        try_number = params["try_number"]
        if not try_number.isdigit():
            raise V1Error(400, f"try_number {try_number!r} is not an integer", "Invalid request")
        v2_query = [(k, v) for k, v in query if k in ("full_content", "map_index", "token")]
        return V2Call("GET", f"{_ti(params)}/logs/{try_number}", v2_query)
    raise V1Error(404, f"{op} is not served")  # pragma: no cover - ROUTES and plan() agree


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise V1Error(400, "The request body must be a JSON object", "Invalid request")
    return body


_TRIGGER_KEYS = ("dag_run_id", "data_interval_start", "data_interval_end", "conf", "note")


def trigger_body(data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """v1's DAGRun POST body as v2's TriggerDAGRunPostBody.

    Airflow 2 gives every run a logical date (now when the caller names none); Airflow 3 allows
    none, so the facade passes now to keep v1's behaviour (a run id and ``execution_date`` as before).
    """
    logical = data.get("logical_date")
    execution = data.get("execution_date")
    if logical is not None and execution is not None and logical != execution:
        raise V1Error(
            400, f"logical_date {logical!r} conflicts with execution_date {execution!r}", "Invalid request"
        )
    when = logical or execution or (now or datetime.now(timezone.utc)).isoformat()
    out: dict[str, Any] = {"logical_date": when}
    for key in _TRIGGER_KEYS:
        if data.get(key) is not None:
            out[key] = data[key]
    return out


_CLEAR_KEYS = (
    "dry_run", "start_date", "end_date", "only_failed", "only_running", "reset_dag_runs", "task_ids",
    "dag_run_id", "include_upstream", "include_downstream", "include_future", "include_past",
)  # fmt: skip


def clear_body(data: dict[str, Any]) -> dict[str, Any]:
    """v1's ClearTaskInstances as v2's body; sub-DAG options are gone with sub-DAGs in Airflow 3."""
    return {k: data[k] for k in _CLEAR_KEYS if data.get(k) is not None}


# --- the v1 answer ------------------------------------------------------------------------------

_RUN_TYPES = {"backfill": "backfill", "manual": "manual", "scheduled": "scheduled"}
_WEIGHT_RULES = ("downstream", "upstream", "absolute")
_CRON = re.compile(r"^(@\w+|(\S+\s+){4,5}\S+)$")
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


def schedule_interval(summary: str | None) -> dict[str, Any] | None:
    """v1's ``schedule_interval`` from Airflow 3's ``timetable_summary``.

    Cron expressions and presets become ``CronExpression``, a ``timedelta`` schedule (its ``str``)
    ``TimeDelta``; asset-driven and custom timetables had no interval in Airflow 2 either: null.
    """
    if summary is None or summary in ("None", ""):
        return None
    text = summary.strip()
    delta = _TIMEDELTA.match(text)
    if delta:
        days, hours, minutes, seconds, fraction = delta.groups()
        return {
            "__type": "TimeDelta",
            "days": int(days or 0),
            "seconds": int(hours) * 3600 + int(minutes) * 60 + int(seconds),
            "microseconds": int((fraction or "0").ljust(6, "0")),
        }
    if _CRON.match(text):
        return {"__type": "CronExpression", "value": text}
    return None


def dag(v2: dict[str, Any]) -> dict[str, Any]:
    """v1 ``DAG`` from v2 ``DAGResponse``: Airflow 2's fields, those v2 dropped as Airflow 2 had them."""
    return {
        "dag_id": v2["dag_id"],
        "dag_display_name": v2.get("dag_display_name") or v2["dag_id"],
        "root_dag_id": None,
        "is_paused": v2.get("is_paused"),
        "is_active": not v2.get("is_stale", False),
        "is_subdag": False,
        "last_parsed_time": v2.get("last_parsed_time"),
        "last_pickled": None,
        "last_expired": v2.get("last_expired"),
        "scheduler_lock": None,
        "pickle_id": None,
        "default_view": "grid",
        "fileloc": v2.get("fileloc") or "",
        "file_token": v2.get("file_token") or "",
        "owners": list(v2.get("owners") or []),
        "description": v2.get("description"),
        "schedule_interval": schedule_interval(v2.get("timetable_summary")),
        "timetable_description": v2.get("timetable_description"),
        "tags": [{"name": t["name"]} for t in v2.get("tags") or []],
        "max_active_tasks": v2.get("max_active_tasks"),
        "max_active_runs": v2.get("max_active_runs"),
        "max_consecutive_failed_dag_runs": v2.get("max_consecutive_failed_dag_runs"),
        "has_task_concurrency_limits": v2.get("has_task_concurrency_limits"),
        "has_import_errors": v2.get("has_import_errors"),
        "next_dagrun": v2.get("next_dagrun_logical_date"),
        "next_dagrun_data_interval_start": v2.get("next_dagrun_data_interval_start"),
        "next_dagrun_data_interval_end": v2.get("next_dagrun_data_interval_end"),
        "next_dagrun_create_after": v2.get("next_dagrun_run_after"),
    }


def dag_run(v2: dict[str, Any]) -> dict[str, Any]:
    """v1 ``DAGRun`` from v2 ``DAGRunResponse`` (``execution_date`` = ``logical_date``)."""
    run_type = str(v2.get("run_type") or "manual")
    logical = v2.get("logical_date")
    return {
        "conf": v2.get("conf") or {},
        "dag_id": v2["dag_id"],
        "dag_run_id": v2.get("dag_run_id"),
        "data_interval_end": v2.get("data_interval_end"),
        "data_interval_start": v2.get("data_interval_start"),
        "end_date": v2.get("end_date"),
        "execution_date": logical,
        # Airflow 2 marked runs made outside the scheduler (UI, API, CLI) as external triggers.
        "external_trigger": run_type == "manual",
        "last_scheduling_decision": v2.get("last_scheduling_decision"),
        "logical_date": logical,
        "note": v2.get("note"),
        # Assets were datasets in Airflow 2; other new run types did not exist there.
        "run_type": "dataset_triggered"
        if run_type == "asset_triggered"
        else _RUN_TYPES.get(run_type, "manual"),
        "start_date": v2.get("start_date"),
        "state": v2.get("state"),
    }


def _logical_or_run_after(v2: dict[str, Any]) -> str:
    """v1's ``execution_date`` of a task instance is a required string; Airflow 3 runs without a
    logical date use the moment they were due (``run_after``), which Airflow 2 would have used."""
    return str(v2.get("logical_date") or v2.get("run_after") or "")


def task_instance(v2: dict[str, Any]) -> dict[str, Any]:
    """v1 ``TaskInstance`` from v2 ``TaskInstanceResponse``."""
    return {
        "dag_id": v2["dag_id"],
        "dag_run_id": v2.get("dag_run_id"),
        "duration": v2.get("duration"),
        "end_date": v2.get("end_date"),
        "execution_date": _logical_or_run_after(v2),
        "executor": v2.get("executor"),
        "executor_config": str(v2.get("executor_config") or "{}"),
        "hostname": v2.get("hostname") or "",
        "map_index": v2.get("map_index", -1),
        "max_tries": v2.get("max_tries", 0),
        "note": v2.get("note"),
        "operator": v2.get("operator"),
        "pid": v2.get("pid"),
        "pool": v2.get("pool") or "default_pool",
        "pool_slots": v2.get("pool_slots", 1),
        "priority_weight": v2.get("priority_weight"),
        "queue": v2.get("queue"),
        "queued_when": v2.get("queued_when"),
        "rendered_fields": v2.get("rendered_fields") or {},
        "rendered_map_index": v2.get("rendered_map_index"),
        "sla_miss": None,  # SLAs are gone in Airflow 3
        "start_date": v2.get("start_date"),
        "state": v2.get("state"),
        "task_display_name": v2.get("task_display_name") or v2["task_id"],
        "task_id": v2["task_id"],
        "trigger": v2.get("trigger"),
        "triggerer_job": v2.get("triggerer_job"),
        "try_number": v2.get("try_number", 0),
        "unixname": v2.get("unixname") or "",
    }


def task_instance_reference(v2: dict[str, Any]) -> dict[str, Any]:
    return {
        "dag_id": v2["dag_id"],
        "dag_run_id": v2.get("dag_run_id"),
        "execution_date": _logical_or_run_after(v2),
        "task_id": v2["task_id"],
    }


def _timedelta(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "__type": "TimeDelta",
        "days": int(value.get("days", 0)),
        "seconds": int(value.get("seconds", 0)),
        "microseconds": int(value.get("microseconds", 0)),
    }


def task(v2: dict[str, Any]) -> dict[str, Any]:
    """v1 ``Task`` from v2 ``TaskResponse`` (extra links were class references in v1, names in v2)."""
    class_ref = v2.get("class_ref") or {}
    out: dict[str, Any] = {
        "class_ref": {
            "class_name": class_ref.get("class_name") or "",
            "module_path": class_ref.get("module_path") or "",
        },
        "task_id": v2.get("task_id"),
        "task_display_name": v2.get("task_display_name") or v2.get("task_id"),
        "owner": v2.get("owner") or "",
        "start_date": v2.get("start_date"),
        "end_date": v2.get("end_date"),
        "trigger_rule": v2.get("trigger_rule") or "all_success",
        "extra_links": [
            {"class_ref": {"class_name": str(n), "module_path": ""}} for n in v2.get("extra_links") or []
        ],
        "depends_on_past": bool(v2.get("depends_on_past")),
        "wait_for_downstream": bool(v2.get("wait_for_downstream")),
        "retries": v2.get("retries") or 0,
        "queue": v2.get("queue"),
        "pool": v2.get("pool") or "default_pool",
        "pool_slots": v2.get("pool_slots") or 1,
        "execution_timeout": _timedelta(v2.get("execution_timeout")),
        "retry_delay": _timedelta(v2.get("retry_delay")),
        "retry_exponential_backoff": bool(v2.get("retry_exponential_backoff")),
        "priority_weight": v2.get("priority_weight") if v2.get("priority_weight") is not None else 1,
        "ui_color": v2.get("ui_color") or "#fff",
        "ui_fgcolor": v2.get("ui_fgcolor") or "#000",
        "template_fields": list(v2.get("template_fields") or []),
        "downstream_task_ids": list(v2.get("downstream_task_ids") or []),
        "params": v2.get("params") or {},
        "is_mapped": bool(v2.get("is_mapped")),
        "doc_md": v2.get("doc_md"),
        "operator_name": v2.get("operator_name") or class_ref.get("class_name") or "",
    }
    # A custom priority-weight strategy has no v1 name: left out, as v1 cannot express it.
    if v2.get("weight_rule") in _WEIGHT_RULES:
        out["weight_rule"] = v2["weight_rule"]
    return out


def log_line(item: Any) -> str:
    """One structured log message of Airflow 3 as the text line Airflow 2's log showed."""
    if not isinstance(item, dict):
        return str(item)
    parts = []
    if item.get("timestamp"):
        parts.append(f"[{item['timestamp']}]")
    if item.get("level"):
        parts.append(str(item["level"]).upper())
    if item.get("logger"):
        parts.append(f"{{{item['logger']}}}")
    head = " ".join(parts)
    line = f"{head} - {item.get('event', '')}" if head else str(item.get("event", ""))
    for source in item.get("sources") or []:
        line += f"\n  {source}"
    return line


def log_text(v2: dict[str, Any]) -> str:
    content = v2.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(log_line(item) for item in content or [])


def log_json(v2: dict[str, Any]) -> dict[str, Any]:
    """v1's JSON log answer: ``content`` is the text of Python's ``repr`` of ``[(host, text)]``,
    exactly what Airflow 2 sends; ``continuation_token`` is left out at the end of the log (v1
    declares it a string, and Airflow 3 has none to give)."""
    out: dict[str, Any] = {"content": repr([("", log_text(v2))])}
    if v2.get("continuation_token"):
        out["continuation_token"] = v2["continuation_token"]
    return out


def answer(op: str, params: dict[str, str], v2: Any) -> Any:
    """The v1 body of a successful v2 answer (None: no body, e.g. 204)."""
    if op == "list_dags":
        return {"dags": [dag(d) for d in v2.get("dags", [])], "total_entries": v2.get("total_entries", 0)}
    if op in ("get_dag", "patch_dag"):
        return dag(v2)
    if op == "list_runs":
        runs = [dag_run(r) for r in v2.get("dag_runs", [])]
        return {"dag_runs": runs, "total_entries": v2.get("total_entries") or 0}
    if op in ("trigger_run", "get_run"):
        return dag_run(v2)
    if op == "list_tasks":
        tasks = [task(t) for t in v2.get("tasks", [])]
        return {"tasks": tasks, "total_entries": v2.get("total_entries", len(tasks))}
    if op == "get_task":
        return task(v2)
    if op == "list_task_instances":
        tis = [task_instance(t) for t in v2.get("task_instances", [])]
        return {"task_instances": tis, "total_entries": v2.get("total_entries") or 0}
    if op == "get_task_instance":
        return task_instance(v2)
    if op == "patch_task_instance":
        for ti in v2.get("task_instances", []):
            if ti.get("task_id") == params["task_id"]:
                return task_instance_reference(ti)
        raise V1Error(404, f"Task instance {params['task_id']!r} of run {params['dag_run_id']!r} not found")
    if op == "clear_task_instances":
        refs = [task_instance_reference(t) for t in v2.get("task_instances", []) if "dag_id" in t]
        return {"task_instances": refs}
    if op == "get_log":
        return log_json(v2)
    return None


def only_fields(body: Any, fields: list[str]) -> Any:
    """v1's ``fields`` parameter: keep those keys of each object (of a collection's items too)."""
    if not fields or not isinstance(body, dict):
        return body
    wanted = set(fields)

    def pick(obj: Any) -> Any:
        return {k: v for k, v in obj.items() if k in wanted} if isinstance(obj, dict) else obj

    if "total_entries" in body:
        return {k: [pick(x) for x in v] if isinstance(v, list) else v for k, v in body.items()}
    return pick(body)


def error_from_v2(status: int, v2: Any) -> V1Error:
    """A v2 error answer (``{"detail": …}``; 422 with pydantic's list) as v1 would have answered."""
    detail = v2.get("detail") if isinstance(v2, dict) else None
    if isinstance(detail, list):
        messages = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p not in ("body", "query", "path"))
                messages.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
            else:
                messages.append(str(item))
        text = "; ".join(messages)
    elif isinstance(detail, dict):
        text = str(detail.get("reason") or detail.get("message") or detail)
    else:
        text = str(detail) if detail is not None else _TITLES.get(status, "Error")
    # v1 answered invalid input with 400; FastAPI's 422 is that.
    return V1Error(400 if status == 422 else status, text)
