"""``client.tasks``: a DAG's tasks, their instances in a run, clearing them, and their logs."""

from __future__ import annotations

import builtins

from airflow_platform.schemas.airflow import (
    Task,
    TaskCollection,
    TaskInstance,
    TaskInstanceCollection,
    TaskInstancesClear,
)
from airflow_platform.sdk.calls import Op
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, states, validated


class TaskInstancePage(SyncPage[TaskInstance]):
    @property
    def task_instances(self) -> list[TaskInstance]:
        return self.items


class AsyncTaskInstancePage(AsyncPage[TaskInstance]):
    @property
    def task_instances(self) -> list[TaskInstance]:
        return self.items


def _clear_body(
    task_id: str | None, task_ids: list[str] | None, dag_run_id: str | None, **flags: bool
) -> TaskInstancesClear:
    ids = list(task_ids or []) + ([task_id] if task_id else [])
    return validated(TaskInstancesClear, task_ids=ids or None, dag_run_id=dag_run_id, **flags)


class _TaskOps(Ops):
    def _list(self, dag_id: str) -> Op[list[Task]]:
        routes = yield from self._core.info.routes()
        return TaskCollection.model_validate((yield routes.list_tasks(dag_id))).tasks

    def _get(self, dag_id: str, task_id: str) -> Op[Task]:
        routes = yield from self._core.info.routes()
        return Task.model_validate((yield routes.get_task(dag_id, task_id)))

    def _instances(
        self, dag_id: str, dag_run_id: str, state: list[str] | None, limit: int
    ) -> PageOp[TaskInstance]:
        def op(offset: int) -> Op[PageData[TaskInstance]]:
            routes = yield from self._core.info.routes()
            call = routes.list_task_instances(dag_id, dag_run_id, state=state, limit=limit, offset=offset)
            page = TaskInstanceCollection.model_validate((yield call))
            return PageData(page.task_instances, page.total_entries, limit, offset)

        return op

    def _instance(self, dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> Op[TaskInstance]:
        routes = yield from self._core.info.routes()
        return TaskInstance.model_validate(
            (yield routes.get_task_instance(dag_id, dag_run_id, task_id, map_index))
        )

    def _clear(self, dag_id: str, body: TaskInstancesClear) -> Op[list[TaskInstance]]:
        routes = yield from self._core.info.routes()
        return TaskInstanceCollection.model_validate((yield routes.clear(dag_id, body))).task_instances

    def _logs(
        self, dag_id: str, task_id: str, dag_run_id: str, try_number: int | None, map_index: int
    ) -> Op[str]:
        routes = yield from self._core.info.routes()
        if try_number is None:
            instance = TaskInstance.model_validate(
                (yield routes.get_task_instance(dag_id, dag_run_id, task_id, map_index))
            )
            try_number = max(instance.try_number or 1, 1)
        body = yield routes.logs(dag_id, dag_run_id, task_id, try_number, map_index)
        return routes.decode_logs(body)


class Tasks(_TaskOps, SyncResource):
    def list(self, dag_id: str) -> list[Task]:
        """The DAG's tasks, each with ``upstream_task_ids`` and ``downstream_task_ids``."""
        return self._run(self._list(dag_id))

    def get(self, dag_id: str, task_id: str) -> Task:
        return self._run(self._get(dag_id, task_id))

    def get_instances(
        self,
        dag_id: str,
        dag_run_id: str,
        *,
        state: str | builtins.list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> TaskInstancePage:
        """The run's task instances; iterate the page to walk every page."""
        return self._page(TaskInstancePage, self._instances(dag_id, dag_run_id, states(state), limit), offset)

    def get_instance(
        self, dag_id: str, dag_run_id: str, task_id: str, *, map_index: int = -1
    ) -> TaskInstance:
        return self._run(self._instance(dag_id, dag_run_id, task_id, map_index))

    def clear(
        self,
        dag_id: str,
        task_id: str | None = None,
        dag_run_id: str | None = None,
        *,
        task_ids: builtins.list[str] | None = None,
        only_failed: bool = False,
        include_upstream: bool = False,
        include_downstream: bool = False,
        dry_run: bool = False,
        reset_dag_runs: bool = True,
    ) -> builtins.list[TaskInstance]:
        """Clear (re-run) tasks: the named ones, in ``dag_run_id`` or every run. Returns the task
        instances cleared (or, with ``dry_run``, that would be)."""
        body = _clear_body(
            task_id,
            task_ids,
            dag_run_id,
            only_failed=only_failed,
            dry_run=dry_run,
            include_upstream=include_upstream,
            include_downstream=include_downstream,
            reset_dag_runs=reset_dag_runs,
        )
        return self._run(self._clear(dag_id, body))

    def get_logs(
        self,
        dag_id: str,
        task_id: str,
        dag_run_id: str,
        try_number: int | None = None,
        *,
        map_index: int = -1,
    ) -> str:
        """The log of one try as text (``try_number`` None: the latest try)."""
        return self._run(self._logs(dag_id, task_id, dag_run_id, try_number, map_index))


class AsyncTasks(_TaskOps, AsyncResource):
    async def list(self, dag_id: str) -> builtins.list[Task]:
        return await self._run(self._list(dag_id))

    async def get(self, dag_id: str, task_id: str) -> Task:
        return await self._run(self._get(dag_id, task_id))

    def get_instances(
        self,
        dag_id: str,
        dag_run_id: str,
        *,
        state: str | builtins.list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[TaskInstance, AsyncTaskInstancePage]:
        op = self._instances(dag_id, dag_run_id, states(state), limit)
        return self._paginator(AsyncTaskInstancePage, op, offset)

    async def get_instance(
        self, dag_id: str, dag_run_id: str, task_id: str, *, map_index: int = -1
    ) -> TaskInstance:
        return await self._run(self._instance(dag_id, dag_run_id, task_id, map_index))

    async def clear(
        self,
        dag_id: str,
        task_id: str | None = None,
        dag_run_id: str | None = None,
        *,
        task_ids: builtins.list[str] | None = None,
        only_failed: bool = False,
        include_upstream: bool = False,
        include_downstream: bool = False,
        dry_run: bool = False,
        reset_dag_runs: bool = True,
    ) -> builtins.list[TaskInstance]:
        body = _clear_body(
            task_id,
            task_ids,
            dag_run_id,
            only_failed=only_failed,
            dry_run=dry_run,
            include_upstream=include_upstream,
            include_downstream=include_downstream,
            reset_dag_runs=reset_dag_runs,
        )
        return await self._run(self._clear(dag_id, body))

    async def get_logs(
        self,
        dag_id: str,
        task_id: str,
        dag_run_id: str,
        try_number: int | None = None,
        *,
        map_index: int = -1,
    ) -> str:
        return await self._run(self._logs(dag_id, task_id, dag_run_id, try_number, map_index))
