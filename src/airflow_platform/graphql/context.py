"""What every resolver of one request shares: who asks, what they may do, and the data loaders.

Loaders live per request (a cache never outlives the request that filled it), and so do the
answers of Airflow's auth manager: a page of 100 DAGs asks it once per resource, not 100 times,
and once for the set of DAG ids the user may read (or edit), not once per DAG.

DAG-level checks mirror Airflow's ``is_authorized_dag``: reading a DAG needs DAG read on it (FAB:
the global "DAGs" permission or "DAG:<dag_id>"); reading its runs, task instances or logs needs
that sub-resource too; changing it (pause, trigger, clear) needs DAG edit on it plus the
sub-resource's method. The tenant wall (``auth/dag_tenancy``) is applied by the loaders: another
tenant's DAG reads as missing.
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
#: FAB's per-DAG resources: "DAG:<dag_id>".
DAG_PREFIX = "DAG:"
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
    #: The tenant whose wall the DAG loader applies (None: a platform admin, no wall).
    tenant_id: str | None = None
    dags: DataLoader[str, data.DagRow | None] = field(init=False)
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
    _metrics: dict[tuple[datetime, datetime, data.DagScope], DataLoader[str | None, data.MetricsRow]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        wall = data.DagScope(tenant_id=self.tenant_id)
        self.dags = _batched(lambda ids: data.dags_by_id(ids, wall), lambda: None)

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

    def metrics(
        self, start: datetime, end: datetime, everything: data.DagScope = data.EVERY_DAG
    ) -> DataLoader[str | None, data.MetricsRow]:
        """Key None counts the runs of every DAG in ``everything`` (the DAGs the request may list)."""
        key = (start, end, everything)
        if key not in self._metrics:
            self._metrics[key] = _batched(
                lambda ids: data.metrics_by_dag(ids, start, end, everything),
                lambda: data.MetricsRow(0, 0, 0, None),
            )
        return self._metrics[key]


@dataclass
class GraphQLContext:
    principal: Principal
    loaders: Loaders = field(init=False)
    _decisions: dict[tuple[str, str], bool] = field(default_factory=dict)
    _dag_ids: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = Loaders(tenant_id=self.principal.tenant_id)

    def _decision(self, resource: str, method: str) -> bool:
        key = (resource, method)
        if key not in self._decisions:
            self._decisions[key] = self._decide(resource, method)
        return self._decisions[key]

    def authorize(self, resource: str, method: str = "GET") -> None:
        """Scopes, then Airflow's auth manager, as REST's ``authorize``; remembered per request."""
        if not self._decision(resource, method):
            raise self._denied(resource, method)

    def _denied(self, resource: str, method: str, what: str | None = None) -> PermissionDeniedError:
        from airflow_platform.auth.permissions import action_for

        return PermissionDeniedError(
            f"User {self.principal.username!r} may not {action_for(method).removeprefix('can_')} "
            f"{what or resource} (or this credential's scopes do not allow it).",
            details={"resource": resource, "action": action_for(method)},
        )

    def dag_ids(self, method: str = "GET") -> frozenset[str] | None:
        """The DAG ids this request may read (GET) or edit (PUT); None: every DAG (the global
        permission, so no id list is needed). One question to the auth manager per request."""
        if method not in self._dag_ids:
            from airflow_platform.auth.scopes import allows

            if self._decision(DAGS, method):
                self._dag_ids[method] = None
            elif not allows(self.principal.scopes, AIRFLOW_SCOPE_RESOURCE, method != "GET"):
                self._dag_ids[method] = frozenset()
            else:
                self._dag_ids[method] = frozenset(compat.authorized_dag_ids(self.principal.user, method))
        return self._dag_ids[method]

    def authorize_dag(
        self, dag_id: str, method: str = "GET", sub_resource: str | None = None, sub_method: str = "GET"
    ) -> None:
        """As Airflow's ``is_authorized_dag``: the sub-resource (DAG Runs, Task Instances, Task Logs)
        with ``sub_method`` if given, and DAG read (GET) or edit (PUT) on this DAG."""
        if sub_resource is not None:
            self.authorize(sub_resource, sub_method)
        allowed = self.dag_ids(method)
        if allowed is not None and dag_id not in allowed:
            raise self._denied(f"{DAG_PREFIX}{dag_id}", method, f"DAG {dag_id!r}")

    def dag_scope(self) -> data.DagScope:
        """What a list of DAGs (or metrics over all DAGs) may include: this tenant's DAGs the user
        may read. A user who may read no DAG at all is refused, as Airflow refuses listing DAGs."""
        readable = self.dag_ids("GET")
        if readable is not None and not readable:
            raise self._denied(DAGS, "GET")
        return data.DagScope(tenant_id=self.principal.tenant_id, dag_ids=readable)

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
