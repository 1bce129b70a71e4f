"""``client.dags``: list, read, trigger, pause and backfill DAGs, and follow their runs.

Speaks ``/api/v1`` to Airflow 2.11 and ``/api/v2`` to Airflow 3 (see
:mod:`airflow_platform.sdk.airflow_routes`); answers come back in the reference's shape either way.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from airflow_platform.schemas.airflow import (
    DAG,
    Backfill,
    BackfillCreate,
    DAGCollection,
    DAGRun,
    DAGRunCollection,
    DAGRunTrigger,
)
from airflow_platform.sdk.calls import Op
from airflow_platform.sdk.dates import as_datetime
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, states, validated
from airflow_platform.sdk.resources.dag_runs import AsyncDagRun, DagRun

R = TypeVar("R", bound=DAGRun)
ReprocessBehavior = Literal["none", "failed", "completed"]


class DagPage(SyncPage[DAG]):
    @property
    def dags(self) -> list[DAG]:
        return self.items


class AsyncDagPage(AsyncPage[DAG]):
    @property
    def dags(self) -> list[DAG]:
        return self.items


class DagRunPage(SyncPage[DagRun]):
    @property
    def dag_runs(self) -> list[DagRun]:
        return self.items


class AsyncDagRunPage(AsyncPage[AsyncDagRun]):
    @property
    def dag_runs(self) -> list[AsyncDagRun]:
        return self.items


def _trigger_body(
    run_id: str | None,
    conf: dict[str, Any] | None,
    logical_date: date | datetime | str | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    note: str | None,
) -> DAGRunTrigger:
    fields = {
        "dag_run_id": run_id,
        "conf": conf,
        "note": note,
        "logical_date": as_datetime(logical_date) if logical_date is not None else None,
        "data_interval_start": data_interval_start,
        "data_interval_end": data_interval_end,
    }
    return validated(DAGRunTrigger, **{k: v for k, v in fields.items() if v is not None})


def _backfill_body(
    dag_id: str,
    start_date: date | datetime | str,
    end_date: date | datetime | str,
    conf: dict[str, Any] | None,
    run_backwards: bool,
    reprocess_behavior: str,
    max_active_runs: int,
) -> BackfillCreate:
    return validated(
        BackfillCreate,
        dag_id=dag_id,
        from_date=as_datetime(start_date),
        to_date=as_datetime(end_date),
        dag_run_conf=conf,
        run_backwards=run_backwards,
        reprocess_behavior=reprocess_behavior,
        max_active_runs=max_active_runs,
    )


class _DagOps(Ops):
    def _list(self, limit: int, **filters: Any) -> PageOp[DAG]:
        def op(offset: int) -> Op[PageData[DAG]]:
            routes = yield from self._core.info.routes()
            page = DAGCollection.model_validate(
                (yield routes.list_dags(limit=limit, offset=offset, **filters))
            )
            return PageData(page.dags, page.total_entries, limit, offset)

        return op

    def _get(self, dag_id: str) -> Op[DAG]:
        routes = yield from self._core.info.routes()
        return DAG.model_validate((yield routes.get_dag(dag_id)))

    def _set_paused(self, dag_id: str, paused: bool) -> Op[DAG]:
        routes = yield from self._core.info.routes()
        return DAG.model_validate((yield routes.set_paused(dag_id, paused)))

    def _trigger(self, dag_id: str, body: DAGRunTrigger, bind: Callable[[Any], R]) -> Op[R]:
        routes = yield from self._core.info.routes()
        return bind((yield routes.trigger(dag_id, body)))

    def _get_run(self, dag_id: str, dag_run_id: str, bind: Callable[[Any], R]) -> Op[R]:
        routes = yield from self._core.info.routes()
        return bind((yield routes.get_run(dag_id, dag_run_id)))

    def _runs(self, dag_id: str, limit: int, bind: Callable[[Any], R], **filters: Any) -> PageOp[R]:
        def op(offset: int) -> Op[PageData[R]]:
            routes = yield from self._core.info.routes()
            page = DAGRunCollection.model_validate(
                (yield routes.list_runs(dag_id, limit=limit, offset=offset, **filters))
            )
            return PageData([bind(run) for run in page.dag_runs], page.total_entries, limit, offset)

        return op

    def _backfill(self, body: BackfillCreate) -> Op[Backfill]:
        routes = yield from self._core.info.routes()
        return Backfill.model_validate((yield routes.backfill(body)))


class Dags(_DagOps, SyncResource):
    def list(
        self,
        *,
        tags: builtins.list[str] | None = None,
        only_active: bool = True,
        paused: bool | None = None,
        dag_id_pattern: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> DagPage:
        """One page (``.dags``, ``.total_entries``); iterate it to walk every page."""
        op = self._list(
            limit,
            tags=tags,
            only_active=only_active,
            paused=paused,
            dag_id_pattern=dag_id_pattern,
            order_by=order_by,
        )
        return self._page(DagPage, op, offset)

    def get(self, dag_id: str) -> DAG:
        return self._run(self._get(dag_id))

    def pause(self, dag_id: str) -> DAG:
        return self._run(self._set_paused(dag_id, True))

    def unpause(self, dag_id: str) -> DAG:
        return self._run(self._set_paused(dag_id, False))

    def trigger(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        run_id: str | None = None,
        logical_date: date | datetime | str | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        note: str | None = None,
    ) -> DagRun:
        """A new run (``.state``, ``.dag_run_id``, ``.refresh()``, ``.wait()``). Not retried: a POST
        that may have reached the server could have started a run already."""
        body = _trigger_body(run_id, conf, logical_date, data_interval_start, data_interval_end, note)
        return self._run(self._trigger(dag_id, body, self._bind))

    def runs(
        self,
        dag_id: str,
        *,
        state: str | builtins.list[str] | None = None,
        logical_date_gte: datetime | None = None,
        logical_date_lte: datetime | None = None,
        order_by: str | None = None,
        newest_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> DagRunPage:
        """The DAG's runs; ``logical_date_*`` filter what Airflow 2 calls ``execution_date``;
        ``newest_first`` orders by the right column on either Airflow."""
        op = self._runs(
            dag_id,
            limit,
            self._bind,
            state=states(state),
            logical_date_gte=logical_date_gte,
            logical_date_lte=logical_date_lte,
            order_by=order_by,
            newest_first=newest_first,
        )
        return self._page(DagRunPage, op, offset)

    def get_run(self, dag_id: str, dag_run_id: str) -> DagRun:
        return self._run(self._get_run(dag_id, dag_run_id, self._bind))

    def backfill(
        self,
        dag_id: str,
        *,
        start_date: date | datetime | str,
        end_date: date | datetime | str,
        conf: dict[str, Any] | None = None,
        run_backwards: bool = False,
        reprocess_behavior: ReprocessBehavior = "none",
        max_active_runs: int = 10,
    ) -> Backfill:
        """Airflow 3 only; raises ``UnsupportedFeatureError`` on Airflow 2.11."""
        body = _backfill_body(
            dag_id, start_date, end_date, conf, run_backwards, reprocess_behavior, max_active_runs
        )
        return self._run(self._backfill(body))

    def _bind(self, data: Any) -> DagRun:
        return DagRun.bound(data, self)


class AsyncDags(_DagOps, AsyncResource):
    def list(
        self,
        *,
        tags: builtins.list[str] | None = None,
        only_active: bool = True,
        paused: bool | None = None,
        dag_id_pattern: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[DAG, AsyncDagPage]:
        op = self._list(
            limit,
            tags=tags,
            only_active=only_active,
            paused=paused,
            dag_id_pattern=dag_id_pattern,
            order_by=order_by,
        )
        return self._paginator(AsyncDagPage, op, offset)

    async def get(self, dag_id: str) -> DAG:
        return await self._run(self._get(dag_id))

    async def pause(self, dag_id: str) -> DAG:
        return await self._run(self._set_paused(dag_id, True))

    async def unpause(self, dag_id: str) -> DAG:
        return await self._run(self._set_paused(dag_id, False))

    async def trigger(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        run_id: str | None = None,
        logical_date: date | datetime | str | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        note: str | None = None,
    ) -> AsyncDagRun:
        body = _trigger_body(run_id, conf, logical_date, data_interval_start, data_interval_end, note)
        return await self._run(self._trigger(dag_id, body, self._bind))

    def runs(
        self,
        dag_id: str,
        *,
        state: str | builtins.list[str] | None = None,
        logical_date_gte: datetime | None = None,
        logical_date_lte: datetime | None = None,
        order_by: str | None = None,
        newest_first: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[AsyncDagRun, AsyncDagRunPage]:
        op = self._runs(
            dag_id,
            limit,
            self._bind,
            state=states(state),
            logical_date_gte=logical_date_gte,
            logical_date_lte=logical_date_lte,
            order_by=order_by,
            newest_first=newest_first,
        )
        return self._paginator(AsyncDagRunPage, op, offset)

    async def get_run(self, dag_id: str, dag_run_id: str) -> AsyncDagRun:
        return await self._run(self._get_run(dag_id, dag_run_id, self._bind))

    async def backfill(
        self,
        dag_id: str,
        *,
        start_date: date | datetime | str,
        end_date: date | datetime | str,
        conf: dict[str, Any] | None = None,
        run_backwards: bool = False,
        reprocess_behavior: ReprocessBehavior = "none",
        max_active_runs: int = 10,
    ) -> Backfill:
        body = _backfill_body(
            dag_id, start_date, end_date, conf, run_backwards, reprocess_behavior, max_active_runs
        )
        return await self._run(self._backfill(body))

    def _bind(self, data: Any) -> AsyncDagRun:
        return AsyncDagRun.bound(data, self)
