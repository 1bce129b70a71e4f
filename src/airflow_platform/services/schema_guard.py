"""Refuse clearly, instead of failing on a missing table, when the platform schema is behind.

The check is cached per process once the schema is current; while it is behind, it is redone at
most every few seconds so a ``db migrate`` run beside a live server is picked up without a restart.
"""

from __future__ import annotations

import threading
import time

from airflow_platform.exceptions import ServiceUnavailableError
from airflow_platform.storage.migrator import Migrator, SchemaStatus

_RECHECK_SECONDS = 5.0
_lock = threading.Lock()


class _State:
    current = False
    checked_at = 0.0
    behind: SchemaStatus | None = None


_state = _State()


def schema_status() -> SchemaStatus:
    from airflow_platform.compat import metadata_engine

    return Migrator(metadata_engine()).status()


def ensure_schema_current() -> None:
    if _state.current:
        return
    with _lock:
        if _state.current:
            return
        now = time.monotonic()
        if _state.behind is not None and now - _state.checked_at < _RECHECK_SECONDS:
            raise _behind_error(_state.behind)
        status = schema_status()
        _state.checked_at = now
        if status.up_to_date:
            _state.current, _state.behind = True, None
            return
        _state.behind = status
        raise _behind_error(status)


def reset() -> None:
    """Forget the cached answer (after a migration in this process, and in tests)."""
    with _lock:
        _state.current, _state.checked_at, _state.behind = False, 0.0, None


def _behind_error(status: SchemaStatus) -> ServiceUnavailableError:
    found = status.current or "none (the platform tables were never created)"
    return ServiceUnavailableError(
        f"The platform database schema is at revision {found}, but this version of airflow-platform "
        f"needs revision {status.head}. Run `airflow-platform db migrate` "
        "(or `airflow db migrate` on Airflow 3).",
        details={"schema_revision": status.current, "expected_revision": status.head},
    )
