"""The body of a delivery: the reference's payload, serialized once when the event is queued.

The bytes are stored in the outbox and every attempt (and every redelivery) signs and sends the
same bytes, so a receiver deduplicating on ``webhook-id`` sees one body per id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)  # a run conf may hold anything Airflow 2 could pickle


def body(event: str, at: datetime, data: dict[str, Any]) -> str:
    document = {"event": event, "timestamp": iso(at), "data": data}
    return orjson.dumps(document, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def duration_seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def run_data(
    *,
    dag_id: str,
    run_id: str,
    logical_date: datetime | None,
    start_date: datetime | None,
    end_date: datetime | None,
    state: str | None,
    conf: Any,
    external_trigger: bool,
    run_type: str | None,
) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "execution_date": iso(logical_date),
        "start_date": iso(start_date),
        "end_date": iso(end_date),
        "duration_seconds": duration_seconds(start_date, end_date),
        "state": state,
        "conf": conf if isinstance(conf, dict) else ({} if conf is None else {"value": conf}),
        "external_trigger": external_trigger,
        "run_type": run_type,
    }


def test_body(webhook_id: str, at: datetime) -> str:
    return body(
        "webhook.test",
        at,
        {"webhook_id": webhook_id, "message": "A test delivery from Airflow Platform."},
    )
