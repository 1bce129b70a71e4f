"""GraphQL against the real Airflow server: DAGs walled by tenant (``tenant:<id>`` tags) and Airflow's
per-DAG FAB permissions ("DAG:<dag_id>"), with DAG files parsed by the real scheduler.

A DAG behind another tenant's wall reads exactly like a missing one (null, not listed, not counted,
RESOURCE_NOT_FOUND for a change); a DAG the user may not read is PERMISSION_DENIED (REST's 403),
and lists carry only the DAGs the user may read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, PASSWORD, Actors
from tests.graphql.test_graphql_e2e import error_codes, gql, ok

pytestmark = pytest.mark.e2e

TEAM_DAG = "gql_tenant_a_only"
ONE, TWO = "gql_perm_one", "gql_perm_two"  # untagged: the default tenant's
DAG_FILE = f'''
from datetime import datetime, timezone

try:  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator

for dag_id, tags in (("{TEAM_DAG}", ["tenant:team-a", "gql"]), ("{ONE}", ["gql"]), ("{TWO}", ["gql"])):
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
             catchup=False, is_paused_upon_creation=True, tags=tags) as dag:
        EmptyOperator(task_id="only")
    globals()[dag_id] = dag
'''
WINDOW = 'startDate: "2000-01-01T00:00:00Z", endDate: "2100-01-01T00:00:00Z"'

#: Roles of one DAG each: read it (and its runs, task instances, logs), or read and edit it.
_ROLES = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    for role_name, grants in json.loads(sys.argv[1]).items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        for action, resource in grants:
            perm = sm.get_permission(action, resource) or sm.create_permission(action, resource)
            sm.add_permission_to_role(role, perm)
    for username, role_name, password in json.loads(sys.argv[2]):
        if sm.find_user(username=username) is None:
            made = sm.add_user(username, username, "Test", f"{username}@example.com",
                               sm.find_role(role_name), password)
            assert made, f"could not create {username}"
"""
_SUB_RESOURCES = [("can_read", "DAG Runs"), ("can_read", "Task Instances"), ("can_read", "Task Logs")]
ROLES = {
    "GqlOneDagReader": [("can_read", f"DAG:{ONE}"), *_SUB_RESOURCES],
    "GqlOneDagEditor": [("can_read", f"DAG:{ONE}"), ("can_edit", f"DAG:{ONE}"), *_SUB_RESOURCES],
}


def _make_roles_and_users() -> None:
    users = [("gql_reader", "GqlOneDagReader", PASSWORD), ("gql_editor", "GqlOneDagEditor", PASSWORD)]
    result = subprocess.run(
        [sys.executable, "-c", _ROLES, json.dumps(ROLES), json.dumps(users)],
        env={**os.environ, **SESSION_ENV}, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def keys(actors: Actors) -> dict[str, str]:
    _make_roles_and_users()
    made = {
        "reader": harness.create_key(SESSION_ENV, "gql_reader"),
        "editor": harness.create_key(SESSION_ENV, "gql_editor"),
    }
    MADE_SECRETS.extend(made.values())
    return made


@pytest.fixture(scope="module")
def parsed(airflow_server: harness.AirflowServer, airflow_home: Path, actors: Actors) -> Iterator[None]:
    """The three DAGs parsed by the scheduler, one run of each (triggered by the admin, left queued:
    the DAGs stay paused), so runs, task instances and metrics have something to show."""
    (airflow_home / "dags" / "gql_dag_permissions.py").write_text(DAG_FILE)
    airflow_server.start_scheduler()
    try:
        with actors.client(actors.admin_key) as admin:

            def seen() -> bool:
                data = ok(admin, '{ dags(filter: {tags: ["gql"]}, limit: 1000) { edges { node { id } } } }')
                return {TEAM_DAG, ONE, TWO} <= {e["node"]["id"] for e in data["dags"]["edges"]}

            airflow_server.wait_for("the permission test DAGs are parsed", seen, 240)
            for dag_id in (TEAM_DAG, ONE, TWO):
                existing = ok(admin, f'{{ dagRun(dagId: "{dag_id}", runId: "perm_run") {{ id }} }}')
                if existing["dagRun"] is None:
                    ok(admin, f'mutation {{ triggerDAG(dagId: "{dag_id}", runId: "perm_run") {{ id }} }}')
        yield
    finally:
        airflow_server.stop_scheduler()


def _reads(client: httpx.Client, dag_id: str) -> dict[str, Any]:
    """Every read of one DAG in one request (errors of single fields come back beside the data)."""
    return gql(
        client,
        f"""{{
          dag(id: "{dag_id}") {{ id }}
          listed: dags(filter: {{search: "{dag_id}"}}) {{ totalCount edges {{ node {{ id }} }} }}
          dagRun(dagId: "{dag_id}", runId: "perm_run") {{ id }}
          dagRuns(dagId: "{dag_id}") {{ totalCount }}
          taskInstance(dagId: "{dag_id}", runId: "perm_run", taskId: "only") {{ taskId }}
          one: metrics(dagId: "{dag_id}", {WINDOW}) {{ totalRuns }}
        }}""",
    )


def _total_runs(client: httpx.Client) -> int:
    return int(ok(client, f"{{ metrics({WINDOW}) {{ totalRuns }} }}")["metrics"]["totalRuns"])


def test_a_tenants_dag_is_seen_by_its_tenant_and_admins_only(actors: Actors, parsed: None) -> None:
    with (
        actors.client(actors.admin_key) as admin,
        actors.client(actors.alice_key) as alice,
        actors.client(actors.bob_key) as bob,
        actors.client(actors.viewer_key) as viewer,
    ):
        for client in (admin, alice):  # the admin across tenants, and team-a
            body = _reads(client, TEAM_DAG)
            assert not body.get("errors"), body
            data = body["data"]
            assert data["dag"] == {"id": TEAM_DAG}
            assert data["listed"]["totalCount"] == 1 and data["listed"]["edges"] == [
                {"node": {"id": TEAM_DAG}}
            ]
            assert data["dagRun"] == {"id": "perm_run"} and data["dagRuns"]["totalCount"] == 1
            assert data["taskInstance"] == {"taskId": "only"}
            assert data["one"]["totalRuns"] == 1

        for client in (bob, viewer):  # team-b, and the default tenant: as if the DAG did not exist
            body = _reads(client, TEAM_DAG)
            assert not body.get("errors"), body
            assert body["data"] == {
                "dag": None, "listed": {"totalCount": 0, "edges": []}, "dagRun": None,
                "dagRuns": {"totalCount": 0}, "taskInstance": None, "one": {"totalRuns": 0},
            }  # fmt: skip
            gql_dags = ok(client, '{ dags(filter: {tags: ["gql"]}) { edges { node { id } } } }')["dags"]
            assert TEAM_DAG not in {e["node"]["id"] for e in gql_dags["edges"]}
            run = 'runId: "perm_run"'
            changes = [
                f'mutation {{ triggerDAG(dagId: "{TEAM_DAG}") {{ id }} }}',
                f'mutation {{ pauseDAG(dagId: "{TEAM_DAG}") {{ id }} }}',
                f'mutation {{ unpauseDAG(dagId: "{TEAM_DAG}") {{ id }} }}',
                f'mutation {{ clearTask(dagId: "{TEAM_DAG}", {run}, taskId: "only") {{ state }} }}',
            ]
            for mutation in changes if client is bob else []:  # the viewer may not change DAGs at all
                assert error_codes(gql(client, mutation)) == ["RESOURCE_NOT_FOUND"], mutation
            missing = gql(client, 'mutation { pauseDAG(dagId: "gql_no_such_dag") { id } }')
            assert error_codes(missing) == ["RESOURCE_NOT_FOUND" if client is bob else "PERMISSION_DENIED"]

        # Untagged DAGs are the default tenant's: team-a does not see them, the viewer does.
        assert ok(alice, f'{{ dag(id: "{ONE}") {{ id }} }}')["dag"] is None
        assert ok(viewer, f'{{ dag(id: "{ONE}") {{ id }} }}')["dag"] == {"id": ONE}

        # Metrics over all DAGs count the visible DAGs' runs only: a run of team-a's DAG counts for
        # alice and the admin, not for bob (a window of that run's instant: no other run is in it).
        made = ok(
            admin, f'mutation {{ triggerDAG(dagId: "{TEAM_DAG}", runId: "perm_run_2") {{ executionDate }} }}'
        )
        at = datetime.fromisoformat(made["triggerDAG"]["executionDate"])
        around = f'startDate: "{at.isoformat()}", endDate: "{at.isoformat()}"'
        query = f"{{ metrics({around}) {{ totalRuns }} }}"
        clients = {"admin": admin, "alice": alice, "bob": bob}
        counts = {name: ok(c, query)["metrics"]["totalRuns"] for name, c in clients.items()}
        assert counts == {"admin": 1, "alice": 1, "bob": 0}


def test_per_dag_permissions_decide_reads_and_changes(
    actors: Actors, parsed: None, keys: dict[str, str]
) -> None:
    with actors.client(keys["reader"]) as reader, actors.client(keys["editor"]) as editor:
        # Only the DAG the role names is listed, counted and readable, with its runs and tasks.
        listed = ok(reader, "{ dags(limit: 1000) { totalCount edges { node { id } } } }")["dags"]
        assert listed == {"totalCount": 1, "edges": [{"node": {"id": ONE}}]}
        body = _reads(reader, ONE)
        assert not body.get("errors"), body
        assert body["data"]["dag"] == {"id": ONE} and body["data"]["taskInstance"] == {"taskId": "only"}
        nested = "runs { edges { node { taskInstances { taskId logs(tryNumber: 1) } } } }"
        dag = ok(reader, f'{{ dag(id: "{ONE}") {{ {nested} }} }}')["dag"]
        assert dag["runs"]["edges"][0]["node"]["taskInstances"][0]["taskId"] == "only"
        one_runs = ok(reader, f'{{ metrics(dagId: "{ONE}", {WINDOW}) {{ totalRuns }} }}')["metrics"][
            "totalRuns"
        ]
        assert one_runs >= 1 and _total_runs(reader) == one_runs  # every DAG = the one it may read

        # Another DAG of the same tenant: PERMISSION_DENIED on every field that reads it.
        listed_two = ok(
            reader, f'{{ dags(filter: {{search: "{TWO}"}}) {{ totalCount edges {{ node {{ id }} }} }} }}'
        )
        assert listed_two["dags"] == {"totalCount": 0, "edges": []}
        for field in (
            f'dag(id: "{TWO}") {{ id }}',
            f'dagRun(dagId: "{TWO}", runId: "perm_run") {{ id }}',
            f'dagRuns(dagId: "{TWO}") {{ totalCount }}',
            f'taskInstance(dagId: "{TWO}", runId: "perm_run", taskId: "only") {{ taskId }}',
            f'metrics(dagId: "{TWO}", {WINDOW}) {{ totalRuns }}',
        ):
            denied = gql(reader, f"{{ {field} }}")
            assert error_codes(denied) == ["PERMISSION_DENIED"], (field, denied)
            assert denied["errors"][0]["extensions"]["details"]["resource"] == f"DAG:{TWO}"

        # Changes need DAG edit on the DAG itself.
        pause = f'mutation {{ pauseDAG(dagId: "{ONE}") {{ id isPaused }} }}'
        assert error_codes(gql(reader, pause)) == ["PERMISSION_DENIED"]
        unpaused = ok(editor, f'mutation {{ unpauseDAG(dagId: "{ONE}") {{ id isPaused }} }}')
        assert unpaused["unpauseDAG"] == {"id": ONE, "isPaused": False}
        assert ok(editor, pause)["pauseDAG"] == {"id": ONE, "isPaused": True}
        unpause = f'mutation {{ unpauseDAG(dagId: "{TWO}") {{ id }} }}'
        assert error_codes(gql(editor, unpause)) == ["PERMISSION_DENIED"]
        # Triggering also needs "DAG Runs" create, which neither role has.
        trigger = f'mutation {{ triggerDAG(dagId: "{ONE}") {{ id }} }}'
        assert error_codes(gql(editor, trigger)) == ["PERMISSION_DENIED"]
