"""What a DataKitOperator writes to its task log, captured live (readable while a task runs).

Airflow 3 operators log through structlog (``structlog.testing.capture_logs``); Airflow 2's through
the standard logger ``airflow.task.operators.<module>.<class>``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from tests import harness

OPERATOR_LOGGER = "airflow.task.operators.airflow_platform.operators.datakit.DataKitOperator"


class TaskLog:
    def __init__(self) -> None:
        self._events: list[Any] = []
        self._lock = threading.Lock()

    def lines(self) -> list[str]:
        with self._lock:
            events = list(self._events)
        return [e["event"] if isinstance(e, dict) else e for e in events]

    def text(self) -> str:
        return "\n".join(self.lines())


class _Handler(logging.Handler):
    def __init__(self, log: TaskLog) -> None:
        super().__init__(level=logging.DEBUG)
        self.task_log = log

    def emit(self, record: logging.LogRecord) -> None:
        with self.task_log._lock:
            self.task_log._events.append(record.getMessage())


@contextlib.contextmanager
def task_log(*other_loggers: str) -> Iterator[TaskLog]:
    """Everything the operator logs (and, on Airflow 2, these other standard loggers)."""
    log = TaskLog()
    if harness.airflow_major() >= 3:
        from structlog.testing import capture_logs

        with capture_logs() as events:
            log._events = events
            yield log
        return
    handler = _Handler(log)
    loggers = [logging.getLogger(name) for name in (OPERATOR_LOGGER, *other_loggers)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield log
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
