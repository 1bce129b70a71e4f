"""Connections to the metadata DB for the platform's own tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def engine() -> sa.engine.Engine:
    from airflow_platform.compat import metadata_engine

    return metadata_engine()


@contextmanager
def transaction() -> Iterator[sa.engine.Connection]:
    with engine().begin() as conn:
        yield conn


@contextmanager
def reading() -> Iterator[sa.engine.Connection]:
    with engine().connect() as conn:
        yield conn


class RowView:
    """Attribute access over a dict, so a just-inserted row serializes like a fetched one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
