"""Dates as callers write them, and as Airflow wants them.

Callers pass ``date``, ``datetime`` or ISO text (``"2024-01-15"`` as the CLI's ``--execution-date``);
Airflow 3 refuses naive datetimes. Both directions live here so every call site agrees: naive means UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timezone


def as_datetime(value: date | datetime | str) -> datetime:
    """A day (``date`` or ``"2024-01-15"``) means its midnight, UTC."""
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" in value
            else date.fromisoformat(value)
        )
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a zone; naive datetimes are taken as UTC (Airflow 3 refuses naive ones)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()
