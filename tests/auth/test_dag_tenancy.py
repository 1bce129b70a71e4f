"""The DAG tenant wall: tags name a DAG's tenants, untagged DAGs are the default tenant's, and the
SQL form of the rule lets through exactly the DAGs the Python form does (on a real SQLite DB)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_platform.auth.dag_tenancy import dag_tenants, sees_dag, tenant_tag, visible_dags_clause

DAG_TAGS: dict[str, list[str]] = {
    "untagged": [],
    "plain_tags": ["production", "etl"],
    "team_a": ["datakit", "tenant:team-a"],
    "team_b": ["tenant:team-b"],
    "shared_a_b": ["tenant:team-a", "tenant:team-b"],
    "explicit_default": ["tenant:default"],
    "lookalike": ["tenantXteam-a", "tenant-team-a"],  # not the prefix: an untagged DAG
    "wildcard": ["tenant:%"],  # a LIKE pattern must not match every tenant
}
TENANTS = [None, "default", "team-a", "team-b", "team-c", "%"]


def test_tags_name_the_tenants_and_untagged_dags_are_the_defaults() -> None:
    assert dag_tenants([]) == {"default"}
    assert dag_tenants(["production"]) == {"default"}
    assert dag_tenants(["x", tenant_tag("team-a")]) == {"team-a"}
    assert dag_tenants(["tenant:team-a", "tenant:team-b"]) == {"team-a", "team-b"}
    assert dag_tenants(["tenant-team-a"]) == {"default"}


@pytest.mark.parametrize(
    ("tenant", "dag", "seen"),
    [
        (None, "team_a", True),  # a platform admin across tenants sees every DAG
        (None, "untagged", True),
        ("team-a", "team_a", True),
        ("team-a", "shared_a_b", True),
        ("team-a", "team_b", False),
        ("team-a", "untagged", False),
        ("default", "untagged", True),
        ("default", "plain_tags", True),
        ("default", "explicit_default", True),
        ("default", "team_a", False),
        ("team-b", "lookalike", False),
        ("default", "lookalike", True),
    ],
)
def test_who_sees_which_dag(tenant: str | None, dag: str, seen: bool) -> None:
    assert sees_dag(tenant, DAG_TAGS[dag]) is seen


@pytest.fixture
def tag_db() -> sa.engine.Engine:
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    dag = sa.Table("dag", meta, sa.Column("dag_id", sa.String, primary_key=True))
    dag_tag = sa.Table(
        "dag_tag",
        meta,
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("dag_id", sa.String, primary_key=True),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(dag.insert(), [{"dag_id": d} for d in DAG_TAGS])
        rows = [{"dag_id": d, "name": t} for d, tags in DAG_TAGS.items() for t in tags]
        conn.execute(dag_tag.insert(), rows)
    return engine


@pytest.mark.parametrize("tenant", TENANTS)
def test_the_sql_wall_agrees_with_the_python_rule(tag_db: sa.engine.Engine, tenant: str | None) -> None:
    meta = sa.MetaData()
    dag = sa.Table("dag", meta, autoload_with=tag_db)
    dag_tag = sa.Table("dag_tag", meta, autoload_with=tag_db)
    clause = visible_dags_clause(tenant, dag.c.dag_id, dag_tag)
    if tenant is None:
        assert clause is None  # no wall: nothing is added to the query
        return
    with tag_db.connect() as conn:
        found = set(conn.execute(sa.select(dag.c.dag_id).where(clause)).scalars())
    assert found == {d for d, tags in DAG_TAGS.items() if sees_dag(tenant, tags)}
