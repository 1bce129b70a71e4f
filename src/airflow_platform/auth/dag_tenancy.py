"""Which tenants a DAG belongs to: the one rule GraphQL and the webhook collector both apply.

Airflow has no tenant of its own, so the platform reads it from DAG tags: the DataKit and export DAG
factories tag a tenant's DAGs ``tenant:<id>``. A DAG with no such tag (a hand-written DAG in the
shared DAG folder) belongs to the ``default`` tenant, the one every principal without a tenant of
its own acts in. A principal with ``tenant_id is None`` is a platform admin across tenants and sees
every DAG. The rule exists twice, in Python (tags already read) and as SQL (lists filtered by the
database, so counts and pages stay right); tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from airflow_platform.services.tenants import DEFAULT_TENANT

TENANT_TAG_PREFIX = "tenant:"


def tenant_tag(tenant_id: str) -> str:
    return f"{TENANT_TAG_PREFIX}{tenant_id}"


def dag_tenants(tags: Iterable[str]) -> frozenset[str]:
    """The tenants named by a DAG's ``tenant:<id>`` tags; ``{"default"}`` when it has none."""
    named = frozenset(t[len(TENANT_TAG_PREFIX) :] for t in tags if t.startswith(TENANT_TAG_PREFIX))
    return named or frozenset({DEFAULT_TENANT})


def sees_dag(tenant_id: str | None, tags: Iterable[str]) -> bool:
    """Whether a principal (or webhook) acting in ``tenant_id`` may see a DAG with these tags."""
    return tenant_id is None or tenant_id in dag_tenants(tags)


def visible_dags_clause(tenant_id: str | None, dag_id: Any, dag_tag: Any) -> Any | None:
    """SQL true for the DAG ids (column ``dag_id``) that ``tenant_id`` sees; None: no wall at all.

    ``dag_tag`` is Airflow's ``DagTag`` model or ``dag_tag`` table (``dag_id`` and ``name`` columns).
    """
    if tenant_id is None:
        return None
    tags = getattr(dag_tag, "c", dag_tag)  # a Core table or an ORM model
    tagged_for_it = sa.select(tags.dag_id).where(tags.name == tenant_tag(tenant_id))
    clause = dag_id.in_(tagged_for_it)
    if tenant_id == DEFAULT_TENANT:
        tagged_for_any = sa.select(tags.dag_id).where(
            tags.name.startswith(TENANT_TAG_PREFIX, autoescape=True)
        )
        clause = sa.or_(clause, dag_id.not_in(tagged_for_any))
    return clause
