"""GraphQL at /graphql against the real Airflow server, with the scheduler (and Airflow 3's DAG
processor) running real DAGs: the reference's three operations as written, runs triggered by the
mutation and read back, task logs, clearing, pausing, connections, permissions, scopes, limits,
and the number of SQL statements a page of DAGs costs (independent of the page size).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e

DAG_ID = "graphql_e2e_pipeline"
MARKER = "graphql-e2e-marker"
TEST_DAG = f'''
from datetime import datetime, timezone

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.operators.python import PythonOperator

with DAG(
    dag_id="{DAG_ID}",
    description="GraphQL end-to-end test pipeline",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["graphql", "e2e"],
    default_args={{"owner": "graphql-team"}},
):
    PythonOperator(task_id="say_hello", python_callable=lambda: print("{MARKER}")) >> PythonOperator(
        task_id="finish", python_callable=lambda: None
    )
'''

GET_DAG_WITH_RUNS = """
query GetDAGWithRuns {
  dag(id: "bronze_to_silver_pipeline") {
    id
    description
    isPaused
    scheduleInterval
    tags {
      name
    }
    runs(limit: 5) {
      edges {
        node {
          id
          executionDate
          state
          duration
          taskInstances {
            taskId
            state
            duration
          }
        }
      }
    }
    metrics(
      startDate: "2024-01-01T00:00:00Z"
      endDate: "2024-01-31T23:59:59Z"
    ) {
      totalRuns
      successfulRuns
      failedRuns
      averageDuration
      successRate
    }
  }
}
"""

TRIGGER_DAG = """
mutation TriggerDAG {
  triggerDAG(
    dagId: "bronze_to_silver_pipeline"
    conf: {
      batch_size: 5000
      parallel_tasks: 8
    }
  ) {
    id
    state
    executionDate
  }
}
"""

GET_TASK_LOGS = """
query GetTaskLogs {
  taskInstance(
    dagId: "bronze_to_silver_pipeline"
    runId: "scheduled__2024-01-15T00:00:00+00:00"
    taskId: "validate_source_data"
  ) {
    taskId
    state
    startDate
    endDate
    duration
    logs(tryNumber: 1)
  }
}
"""

DAG_PAGE = """
query Page($limit: Int!) {
  dags(limit: $limit) {
    totalCount
    edges { node { id isPaused owners tags { name }
      runs(limit: 3) { totalCount edges { node { id state taskInstances { taskId state } } } }
      metrics(startDate: "2000-01-01T00:00:00Z", endDate: "2100-01-01T00:00:00Z") { totalRuns }
    } }
  }
}
"""


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return dict(response.json())


def ok(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    body = gql(client, query, **variables)
    assert not body.get("errors"), body
    return dict(body["data"])


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.fixture(scope="module")
def running(airflow_server: harness.AirflowServer, airflow_home: Path, actors: Actors) -> Iterator[None]:
    """The test DAG in the installation's DAG folder, the scheduler running, the DAGs parsed."""
    from airflow_platform.demo.warehouse import seed

    seed(SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"])
    (airflow_home / "dags" / f"{DAG_ID}.py").write_text(TEST_DAG)
    airflow_server.start_scheduler()
    try:
        with actors.client(actors.admin_key) as admin:
            wanted = {DAG_ID, "bronze_to_silver_pipeline", "example_platform_pipeline"}

            def parsed() -> bool:
                data = ok(admin, "{ dags(limit: 1000) { edges { node { id } } } }")
                return wanted <= {e["node"]["id"] for e in data["dags"]["edges"]}

            airflow_server.wait_for("the DAGs are parsed", parsed, 240)
        yield
    finally:
        airflow_server.stop_scheduler()


def test_no_credentials_is_401_with_the_platform_code(airflow_server: harness.AirflowServer) -> None:
    with httpx.Client(base_url=airflow_server.base_url, timeout=30) as anonymous:
        response = anonymous.post("/graphql", json={"query": "{ dags { totalCount } }"})
        assert response.status_code == 401
        body = response.json()
        assert error_codes(body) == ["AUTHENTICATION_FAILED"]
        assert body["error"]["code"] == "AUTHENTICATION_FAILED"  # the REST envelope too
        assert response.headers["X-Request-ID"]
        bad = anonymous.post("/graphql", json={"query": "{ dags { totalCount } }"},
                             headers={"X-API-Key": "afp_not-a-key"})  # fmt: skip
        assert bad.status_code == 401 and error_codes(bad.json()) == ["AUTHENTICATION_FAILED"]


def test_graphiql_for_a_browser(airflow_server: harness.AirflowServer) -> None:
    response = httpx.get(f"{airflow_server.base_url}/graphql", headers={"Accept": "text/html"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_reference_operations_run_as_written(actors: Actors, running: None) -> None:
    with actors.client(actors.admin_key) as admin:
        dag = ok(admin, GET_DAG_WITH_RUNS)["dag"]
        assert dag["id"] == "bronze_to_silver_pipeline"
        assert dag["description"] == "ETL pipeline from bronze to silver layer"
        assert dag["scheduleInterval"] == "0 0 * * *"
        assert {t["name"] for t in dag["tags"]} == {"production", "etl"}
        assert dag["metrics"] == {"totalRuns": 0, "successfulRuns": 0, "failedRuns": 0,
                                  "averageDuration": None, "successRate": None}  # fmt: skip

        run = ok(admin, TRIGGER_DAG)["triggerDAG"]
        assert run["state"] == "QUEUED" and run["id"] and run["executionDate"]
        again = ok(admin, GET_DAG_WITH_RUNS)["dag"]["runs"]["edges"]
        assert run["id"] in [e["node"]["id"] for e in again]
        conf = ok(admin, 'query($r: ID!) { dagRun(dagId: "bronze_to_silver_pipeline", runId: $r) { conf } }',
                  r=run["id"])["dagRun"]["conf"]  # fmt: skip
        assert conf == {"batch_size": 5000, "parallel_tasks": 8}

        # The reference's run id does not exist here: a null answer, no error.
        assert ok(admin, GET_TASK_LOGS) == {"taskInstance": None}


def test_trigger_run_logs_clear_and_metrics(
    actors: Actors, running: None, airflow_server: harness.AirflowServer
) -> None:
    with actors.client(actors.admin_key) as admin:
        unpaused = ok(admin, f'mutation {{ unpauseDAG(dagId: "{DAG_ID}") {{ id isPaused }} }}')
        assert unpaused["unpauseDAG"] == {"id": DAG_ID, "isPaused": False}
        made = ok(admin, f'mutation {{ triggerDAG(dagId: "{DAG_ID}", runId: "gql_run_1", conf: {{n: 1}}) '
                         "{ id dagId state conf } }")["triggerDAG"]  # fmt: skip
        assert made == {"id": "gql_run_1", "dagId": DAG_ID, "state": "QUEUED", "conf": {"n": 1}}
        duplicate = gql(admin, f'mutation {{ triggerDAG(dagId: "{DAG_ID}", runId: "gql_run_1") {{ id }} }}')
        assert error_codes(duplicate) == ["CONFLICT"]

        run_query = f'{{ dagRun(dagId: "{DAG_ID}", runId: "gql_run_1") {{ state duration startDate endDate ' \
                    "taskInstances { taskId state tryNumber maxTries duration } } }"  # fmt: skip

        def finished() -> dict[str, Any] | None:
            run = ok(admin, run_query)["dagRun"]
            return run if run["state"] in ("SUCCESS", "FAILED") else None

        run = airflow_server.wait_for("the triggered run finishes", finished, 240)
        assert run["state"] == "SUCCESS", run
        assert run["duration"] is not None and run["duration"] >= 0
        assert {t["taskId"]: t["state"] for t in run["taskInstances"]} == {"say_hello": "SUCCESS",
                                                                           "finish": "SUCCESS"}  # fmt: skip

        ti_query = (f'{{ taskInstance(dagId: "{DAG_ID}", runId: "gql_run_1", taskId: "say_hello") '
                    "{ id taskId state tryNumber logs(tryNumber: 1) } }")  # fmt: skip
        ti = ok(admin, ti_query)["taskInstance"]
        assert ti["state"] == "SUCCESS" and ti["tryNumber"] == 1
        assert MARKER in (ti["logs"] or ""), ti["logs"]

        cleared = ok(admin, f'mutation {{ clearTask(dagId: "{DAG_ID}", runId: "gql_run_1", taskId: "finish") '
                            "{ taskId state } }")["clearTask"]  # fmt: skip
        assert cleared["taskId"] == "finish" and cleared["state"] != "SUCCESS"
        run = airflow_server.wait_for("the cleared run finishes again", finished, 240)
        assert run["state"] == "SUCCESS"
        tries = {t["taskId"]: t["tryNumber"] for t in run["taskInstances"]}
        assert tries == {"say_hello": 1, "finish": 2}

        missing = gql(
            admin,
            f'mutation {{ clearTask(dagId: "{DAG_ID}", runId: "nope", taskId: "finish") {{ taskId }} }}',
        )
        assert error_codes(missing) == ["RESOURCE_NOT_FOUND"]

        window = '(startDate: "2000-01-01T00:00:00Z", endDate: "2100-01-01T00:00:00Z")'
        metrics = ok(admin, f'{{ metrics(dagId: "{DAG_ID}", {window[1:]} {{ totalRuns successfulRuns '
                            "failedRuns averageDuration successRate } }")["metrics"]  # fmt: skip
        assert metrics["totalRuns"] == 1 and metrics["successfulRuns"] == 1 and metrics["failedRuns"] == 0
        assert metrics["successRate"] == 1.0 and metrics["averageDuration"] >= 0
        everything = ok(admin, f"{{ metrics{window} {{ totalRuns }} }}")["metrics"]
        assert everything["totalRuns"] >= 2  # this run and the reference's trigger

        dag_query = (
            f'{{ dag(id: "{DAG_ID}") {{ owners tasks {{ taskId operator downstreamTaskIds }} '
            "runs(filter: {state: [SUCCESS]}) { totalCount edges { node { id } } } } }"
        )
        dag = ok(admin, dag_query)["dag"]
        assert dag["owners"] == ["graphql-team"]
        assert {t["taskId"]: t["downstreamTaskIds"] for t in dag["tasks"]} == {
            "say_hello": ["finish"],
            "finish": [],
        }
        assert dag["runs"]["totalCount"] == 1 and dag["runs"]["edges"][0]["node"]["id"] == "gql_run_1"

        paused = ok(admin, f'mutation {{ pauseDAG(dagId: "{DAG_ID}") {{ isPaused }} }}')["pauseDAG"]
        assert paused == {"isPaused": True}
        listed = ok(
            admin,
            '{ dags(filter: {tags: ["graphql"], isPaused: true}) { totalCount edges { node { id } } } }',
        )
        assert [e["node"]["id"] for e in listed["dags"]["edges"]] == [DAG_ID]
        unknown = gql(admin, 'mutation { pauseDAG(dagId: "no_such_dag") { id } }')
        assert error_codes(unknown) == ["RESOURCE_NOT_FOUND"]


def test_permissions_scopes_and_rate_classes(actors: Actors, running: None) -> None:
    with actors.client(actors.viewer_key) as viewer:
        assert ok(viewer, f'{{ dag(id: "{DAG_ID}") {{ id }} }}')["dag"] == {"id": DAG_ID}
        refused = gql(viewer, f'mutation {{ triggerDAG(dagId: "{DAG_ID}") {{ id }} }}')
        assert error_codes(refused) == ["PERMISSION_DENIED"] and refused["data"] is None
        assert error_codes(gql(viewer, f'mutation {{ pauseDAG(dagId: "{DAG_ID}") {{ id }} }}')) == [
            "PERMISSION_DENIED"
        ]

    read_only = harness.create_key(SESSION_ENV, harness.ADMIN_USER, "--scopes", "airflow:read")
    MADE_SECRETS.append(read_only)
    with actors.client(read_only) as scoped:
        query = scoped.post("/graphql", json={"query": "{ dags(limit: 1) { totalCount } }"})
        assert query.status_code == 200 and not query.json().get("errors")
        mutation = scoped.post(
            "/graphql", json={"query": f'mutation {{ pauseDAG(dagId: "{DAG_ID}") {{ id }} }}'}
        )
        assert error_codes(mutation.json()) == ["PERMISSION_DENIED"]
        # A query draws on the GET budget, a mutation on the write budget (the server's: 10000/minute).
        assert query.headers["X-RateLimit-Limit"] == "1000"
        assert mutation.headers["X-RateLimit-Limit"] == "10000"
        connections = gql(scoped, 'mutation { deleteConnection(id: "x") }')
        assert error_codes(connections) == ["PERMISSION_DENIED"]


def test_connection_mutations_keep_tenant_walls(actors: Actors) -> None:
    create = """mutation($i: ConnectionInput!) { createConnection(input: $i) {
        id connectionType host port schema login password extra tenantId } }"""
    with actors.client(actors.alice_key) as alice, actors.client(actors.bob_key) as bob:
        given = {"connectionId": "gql_conn", "connectionType": "postgres", "host": "db.internal",
                 "port": 5432, "schema": "warehouse", "login": "etl", "password": "gql-s3cret",
                 "extra": {"sslmode": "require"}}  # fmt: skip
        MADE_SECRETS.append("gql-s3cret")
        made = ok(alice, create, i=given)["createConnection"]
        assert made == {"id": "gql_conn", "connectionType": "postgres", "host": "db.internal", "port": 5432,
                        "schema": "warehouse", "login": "etl", "password": "***",
                        "extra": {"sslmode": "require"}, "tenantId": "team-a"}  # fmt: skip
        assert error_codes(gql(alice, create, i={"connectionId": "gql_conn", "connectionType": "http"})) == [
            "CONFLICT"
        ]
        bad = gql(alice, create, i={"connectionId": "bad id!", "connectionType": "http"})
        assert error_codes(bad) == ["VALIDATION_ERROR"]

        update = (
            'mutation($u: ConnectionUpdateInput!) { updateConnection(id: "gql_conn", input: $u) '
            "{ host port login } }"
        )
        assert error_codes(gql(bob, update, u={"host": "evil"})) == ["RESOURCE_NOT_FOUND"]
        assert error_codes(gql(bob, 'mutation { deleteConnection(id: "gql_conn") }')) == [
            "RESOURCE_NOT_FOUND"
        ]
        updated = ok(alice, update, u={"host": "db2.internal", "login": None})["updateConnection"]
        assert updated == {"host": "db2.internal", "port": 5432, "login": None}
        assert ok(alice, 'mutation { deleteConnection(id: "gql_conn") }') == {"deleteConnection": True}
        assert error_codes(gql(alice, 'mutation { deleteConnection(id: "gql_conn") }')) == [
            "RESOURCE_NOT_FOUND"
        ]


def test_depth_alias_and_size_limits(actors: Actors) -> None:
    with actors.client(actors.admin_key) as admin:
        deepest = "{ dags { edges { node { runs { edges { node { taskInstances { taskId } } } } } } } }"
        assert not gql(admin, deepest).get("errors")
        fragment = "query { dags { edges { node { ...F } } } } fragment F on DAG { runs { totalCount } }"
        assert not gql(admin, fragment).get("errors")
        of_types = "ofType { " * 5 + "name" + " }" * 5
        introspection = "{ __schema { types { fields { type { " + of_types + " } } } } }"
        assert not gql(admin, introspection).get("errors")  # GraphiQL's own introspection is not limited
        aliases = "{ " + " ".join(f"a{i}: dags(limit: 1) {{ totalCount }}" for i in range(31)) + " }"
        assert error_codes(gql(admin, aliases)) == ["VALIDATION_ERROR"]
        tokens = "{ dags(limit: 1) { totalCount " + "__typename " * 2100 + "} }"
        assert error_codes(gql(admin, tokens)) == ["VALIDATION_ERROR"]
        assert error_codes(gql(admin, "{ dags { ")) == ["VALIDATION_ERROR"]
        assert error_codes(gql(admin, "{ dags(limit: 5000) { totalCount } }")) == ["VALIDATION_ERROR"]


def test_a_page_of_dags_costs_the_same_statements_whatever_its_size(running: None) -> None:
    """N+1 check in-process on the same metadata DB: one query per field, not per DAG or run, for a
    platform admin (no wall, every DAG) and for a tenant's user allowed some DAGs only (the tenant
    wall and the readable DAG ids go into the SQL).

    The auth manager's answers are the only part left out (asked once per request, not per DAG,
    and the in-process app has no FAB app to ask); everything else is the server's code path.
    """
    import asyncio

    import sqlalchemy as sa

    from airflow_platform import compat
    from airflow_platform.auth.principal import Principal
    from airflow_platform.graphql.context import GraphQLContext
    from airflow_platform.graphql.schema import build_schema

    class Trusted(GraphQLContext):
        def _decide(self, resource: str, method: str) -> bool:
            return True

    some = frozenset({DAG_ID, "bronze_to_silver_pipeline", "example_platform_pipeline"})

    class SomeDags(Trusted):
        def dag_ids(self, method: str = "GET") -> frozenset[str] | None:
            return some

    admin = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key")
    user = Principal(username="u", user=None, tenant_id="default", scopes=frozenset({"*"}), via="api_key")
    schema = build_schema()
    engine = compat.metadata_engine()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    counts: dict[str, list[int]] = {"admin": [], "some DAGs": []}
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for name, context in (("admin", lambda: Trusted(principal=admin)),
                              ("some DAGs", lambda: SomeDags(principal=user))):  # fmt: skip
            for limit in (1, 3):
                statements.clear()
                result = asyncio.run(schema.execute(DAG_PAGE, variable_values={"limit": limit},
                                                    context_value=context()))  # fmt: skip
                assert not result.errors, result.errors
                assert result.data is not None and len(result.data["dags"]["edges"]) == limit
                counts[name].append(len(statements))
                if name == "some DAGs":
                    assert {e["node"]["id"] for e in result.data["dags"]["edges"]} <= some
                    assert result.data["dags"]["totalCount"] == len(some)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    for name, (one, three) in counts.items():
        assert one == three and three <= 8, (name, counts)
