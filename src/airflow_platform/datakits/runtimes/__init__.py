"""Where a DataKit's container runs: a Docker engine, or a Kubernetes cluster.

A runtime gets a planned run and a local work folder whose ``inputs/`` already holds the input
Parquet files; it runs the image, streams its output lines to ``on_line`` as they come, and leaves
the output files in ``outputs/``. Everything about the warehouse stays in ``contract``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from airflow_platform.datakits.contract import RunPlan

#: How many of the last log lines a failure message quotes.
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class ContainerJob:
    """One run of a kit's image, as a runtime needs it."""

    plan: RunPlan
    run_id: str
    dag_id: str | None = None
    task_id: str | None = None
    #: Extra variables from the task; the contract's own ``DATAKIT_*`` variables win.
    environment: dict[str, str] = field(default_factory=dict)
    #: Seconds the container may run; it is stopped and the run fails after that.
    timeout: float | None = None
    #: False: no network; True: the engine's default; a string: that Docker network.
    network: bool | str = False


@dataclass
class RunResult:
    exit_code: int
    log_tail: list[str]


class LogTail:
    """The last lines of a run, for the message of a failed task."""

    def __init__(self, size: int = LOG_TAIL_LINES) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=size)

    def add(self, line: str) -> None:
        self._lines.append(line)

    @property
    def lines(self) -> list[str]:
        return list(self._lines)


class Runtime(Protocol):
    def run(self, job: ContainerJob, workdir: Path, on_line: Callable[[str], None]) -> RunResult: ...

    def stop(self) -> None:
        """Stop and remove what ``run`` started (``on_kill``); safe to call at any time."""
