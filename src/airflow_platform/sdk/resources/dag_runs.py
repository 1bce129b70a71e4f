"""DAG runs that can fetch themselves again: ``run.refresh()`` and ``run.wait()``.

The reference's monitoring loop (``while run.state not in [...]: run.refresh()``) needs a run that
remembers which client made it; the schema's ``DAGRun`` cannot (schemas hold no client), so these
subclasses add that and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import PrivateAttr
from typing_extensions import Self

from airflow_platform.schemas.airflow import DAGRun


class _BoundRun(DAGRun):
    """A run that can fetch itself again: ``run.refresh()`` updates it in place."""

    _dags: Any = PrivateAttr(default=None)

    @classmethod
    def bound(cls, data: Any, dags: Any) -> Self:
        run = cls.model_validate(data.model_dump(by_alias=True) if isinstance(data, DAGRun) else data)
        run._dags = dags
        return run

    def _take(self, fresh: DAGRun) -> None:
        self.__dict__.update(fresh.__dict__)
        object.__setattr__(self, "__pydantic_extra__", fresh.__pydantic_extra__)
        object.__setattr__(self, "__pydantic_fields_set__", set(fresh.__pydantic_fields_set__))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _check_deadline(run: DAGRun, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"DAG run {run.dag_run_id} of {run.dag_id} is still {run.state}")


class DagRun(_BoundRun):
    def refresh(self) -> Self:
        self._take(self._dags.get_run(self.dag_id, self.dag_run_id))
        return self

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 5.0,
        on_poll: Callable[[DagRun], None] | None = None,
    ) -> Self:
        """Poll until the run succeeds or fails; ``TimeoutError`` after ``timeout`` seconds."""
        deadline = _deadline(timeout)
        while not self.finished:
            _check_deadline(self, deadline)
            time.sleep(poll_interval)
            self.refresh()
            if on_poll is not None:
                on_poll(self)
        return self


class AsyncDagRun(_BoundRun):
    async def refresh(self) -> Self:
        self._take(await self._dags.get_run(self.dag_id, self.dag_run_id))
        return self

    async def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 5.0,
        on_poll: Callable[[AsyncDagRun], None] | None = None,
    ) -> Self:
        deadline = _deadline(timeout)
        while not self.finished:
            _check_deadline(self, deadline)
            await anyio.sleep(poll_interval)
            await self.refresh()
            if on_poll is not None:
                on_poll(self)
        return self
