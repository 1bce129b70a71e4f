"""What every resolver of one request shares: who asks, what they may do, and the data loaders.

Loaders live per request (a cache never outlives the request that filled it), and so do the
answers of Airflow's auth manager: a page of 100 DAGs asks it once per resource, not 100 times.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from airflow_platform import compat
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import PermissionDeniedError
from airflow_platform.graphql import data

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Airflow's own FAB resources, as its REST API and UI check them.
DAGS, DAG_RUNS, TASK_INSTANCES, TASK_LOGS, CONNECTIONS = (
    "DAGs", "DAG Runs", "Task Instances", "Task Logs", "Connections",
)  # fmt: skip
#: The scope area that covers Airflow's own resources for a platform key ("airflow:read|write").
AIRFLOW_SCOPE_RESOURCE = "Airflow API"
CONNECTIONS_FEATURE = "external_connections"


def _batched(fetch: Callable[[list[K]], Mapping[K, Any]], default: Callable[[], V]) -> DataLoader[K, V]:
    """A loader whose batch is one call of ``fetch`` (which answers a dict by key)."""

    async def load(keys: list[K]) -> Sequence[V]:
        found = fetch(keys)
        return [found[k] if k in found else default() for k in keys]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    dags: DataLoader[str, data.DagRow | None] = field(
        default_factory=lambda: _batched(data.dags_by_id, lambda: None)
    )
    tags: DataLoader[str, list[str]] = field(default_factory=lambda: _batched(data.tags_by_dag, list))
    runs: DataLoader[tuple[str, str], data.RunRow | None] = field(
        default_factory=lambda: _batched(data.runs_by_key, lambda: None)
    )
    task_instances: DataLoader[tuple[str, str], list[data.TaskInstanceRow]] = field(
        default_factory=lambda: _batched(data.task_instances_by_run, list)
    )
    _runs_of_dag: dict[tuple[data.RunFilter, int], DataLoader[str, tuple[list[data.RunRow], int]]] = field(
        default_factory=dict
    )
    _metrics: dict[tuple[datetime, datetime], DataLoader[str | None, data.MetricsRow]] = field(
        default_factory=dict
    )

    def runs_of_dag(
        self, run_filter: data.RunFilter, limit: int
    ) -> DataLoader[str, tuple[list[data.RunRow], int]]:
        """One loader per (filter, limit): the DAGs of a page asking alike share one query."""
        key = (run_filter, limit)
        if key not in self._runs_of_dag:
            self._runs_of_dag[key] = _batched(
                lambda ids: data.runs_by_dag(ids, run_filter, limit), lambda: ([], 0)
            )
        return self._runs_of_dag[key]

    def metrics(self, start: datetime, end: datetime) -> DataLoader[str | None, data.MetricsRow]:
        key = (start, end)
        if key not in self._metrics:
            self._metrics[key] = _batched(
                lambda ids: data.metrics_by_dag(ids, start, end), lambda: data.MetricsRow(0, 0, 0, None)
            )
        return self._metrics[key]


@dataclass
class GraphQLContext:
    principal: Principal
    loaders: Loaders = field(default_factory=Loaders)
    _decisions: dict[tuple[str, str], bool] = field(default_factory=dict)

    def authorize(self, resource: str, method: str = "GET") -> None:
        """Scopes, then Airflow's auth manager, as REST's ``authorize``; remembered per request."""
        key = (resource, method)
        if key not in self._decisions:
            self._decisions[key] = self._decide(resource, method)
        if not self._decisions[key]:
            from airflow_platform.auth.permissions import action_for

            raise PermissionDeniedError(
                f"User {self.principal.username!r} may not {action_for(method).removeprefix('can_')} "
                f"{resource} (or this credential's scopes do not allow it).",
                details={"resource": resource, "action": action_for(method)},
            )

    def _decide(self, resource: str, method: str) -> bool:
        from airflow_platform.auth.scopes import allows

        write = method.upper() not in ("GET", "HEAD", "OPTIONS")
        scope_resource = CONNECTIONS if resource == CONNECTIONS else AIRFLOW_SCOPE_RESOURCE
        if not allows(self.principal.scopes, scope_resource, write):
            return False
        return compat.is_authorized(self.principal.user, method, resource)

    def require_connections_feature(self) -> None:
        if self.principal.tenant_id is None:
            return
        from airflow_platform.api.authn import tenant_service

        if not tenant_service().feature_enabled(self.principal.tenant_id, CONNECTIONS_FEATURE):
            raise PermissionDeniedError(
                f"Tenant {self.principal.tenant_id!r} does not have the {CONNECTIONS_FEATURE!r} feature.",
                details={"tenant_id": self.principal.tenant_id, "feature": CONNECTIONS_FEATURE},
            )
