"""Webhooks over HTTP against a real server and scheduler: real DAG runs become signed deliveries
at a loopback receiver (verified with the ``standardwebhooks`` package), filtered by DAG ids, tags
and tenant walls; CRUD, rotation, test events, the delivery log, redelivery and validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook as Verifier

from tests import harness
from tests.e2e.conftest import MADE_SECRETS, Actors
from tests.webhooks.receivers import Receiver, RecordedRequest

pytestmark = pytest.mark.e2e
HOOKS = "/api/v1/platform/webhooks"
ALL_EVENTS = ["dag.success", "dag.failure", "dag.running", "task.success", "task.failure", "task.retry"]

DAGS = """
from datetime import datetime, timedelta, timezone

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.operators.python import PythonOperator


def fail():
    raise RuntimeError("this task always fails")


with DAG(dag_id="wh_ok", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=False,
         tags=["production", "tenant:team-a"]):
    PythonOperator(task_id="work", python_callable=lambda: None)

with DAG(dag_id="wh_fail", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=False,
         tags=["staging"]):
    PythonOperator(task_id="flaky", python_callable=fail, retries=1, retry_delay=timedelta(seconds=1))
"""


def created(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(HOOKS, json=body)
    assert response.status_code == 201, response.text
    hook = response.json()
    MADE_SECRETS.append(hook["secret"])
    return hook


def verify(secret: str, request: RecordedRequest) -> dict[str, Any]:
    return dict(Verifier(secret).verify(request.body, request.headers))


@pytest.fixture(scope="module")
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def test_crud_rotation_test_event_log_and_redelivery(actors: Actors, rx: Receiver) -> None:
    with actors.client(actors.admin_key) as admin:
        hook = created(
            admin, name="CRUD", url=rx.url("/crud"), events=["dag.success", "task.failure"],
            headers={"X-Webhook-Secret": "your-secret-key"}, description="d",
        )  # fmt: skip
        MADE_SECRETS.append("your-secret-key")
        hook_id = hook["webhook_id"]
        assert hook_id.startswith("wh_") and len(hook_id) == 19
        assert hook["secret"].startswith("whsec_")
        assert hook["headers"] == {"X-Webhook-Secret": "***"}
        assert hook["retry_policy"] == {"max_attempts": 3, "backoff_seconds": [10, 30, 60]}
        assert hook["filters"] == {"dag_ids": [], "tags": []} and hook["enabled"] is True
        got = admin.get(f"{HOOKS}/{hook_id}").json()
        assert "secret" not in got and got["headers"] == {"X-Webhook-Secret": "***"}
        listed = admin.get(HOOKS, params={"event": "task.failure"}).json()
        assert hook_id in [h["webhook_id"] for h in listed["webhooks"]]
        assert set(listed) >= {"webhooks", "total", "limit", "offset"}
        assert hook_id not in [
            h["webhook_id"] for h in admin.get(HOOKS, params={"event": "dag.running"}).json()["webhooks"]
        ]
        policy = {"max_attempts": 2, "backoff_seconds": [1]}
        patched = admin.patch(f"{HOOKS}/{hook_id}", json={"name": "CRUD 2", "retry_policy": policy})
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "CRUD 2" and patched.json()["retry_policy"]["max_attempts"] == 2

        # The test event: signed, with the custom header, recorded in the log.
        test = admin.post(f"{HOOKS}/{hook_id}/test")
        assert test.status_code == 200, test.text
        assert test.json()["status"] == "succeeded" and test.json()["response_status"] == 200
        [request] = rx.wait_for(1)
        assert request.headers["webhook-id"] == test.json()["delivery_id"]
        assert request.headers["x-webhook-secret"] == "your-secret-key"
        assert verify(hook["secret"], request)["event"] == "webhook.test"

        # Rotation: during the grace period both the old and the new secret verify.
        rotated = admin.post(f"{HOOKS}/{hook_id}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        MADE_SECRETS.append(new_secret)
        assert new_secret != hook["secret"] and rotated.json()["previous_secret_expires_at"]
        rx.clear()
        admin.post(f"{HOOKS}/{hook_id}/test")
        [request] = rx.wait_for(1)
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        assert verify(new_secret, request)["event"] == "webhook.test"
        assert verify(hook["secret"], request)["event"] == "webhook.test"

        # The delivery log, one delivery with its payload and attempts, and redelivery (same id).
        log = admin.get(f"{HOOKS}/{hook_id}/deliveries").json()
        assert log["total"] == 2 and [d["status"] for d in log["deliveries"]] == ["succeeded", "succeeded"]
        newest = log["deliveries"][0]
        assert newest["delivery_id"].startswith("msg_") and len(newest["delivery_id"]) == 30
        one = admin.get(f"{HOOKS}/{hook_id}/deliveries/{newest['delivery_id']}").json()
        assert one["payload"]["event"] == "webhook.test"
        assert [a["attempt"] for a in one["attempt_log"]] == [1]
        rx.clear()
        again = admin.post(f"{HOOKS}/{hook_id}/deliveries/{newest['delivery_id']}/redeliver")
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "pending" and again.json()["delivery_id"] == newest["delivery_id"]
        [request] = rx.wait_for(1, timeout=120)  # sent by the server's own dispatcher thread
        assert request.headers["webhook-id"] == newest["delivery_id"]
        assert verify(new_secret, request)["event"] == "webhook.test"

        assert admin.delete(f"{HOOKS}/{hook_id}").status_code == 204
        assert admin.get(f"{HOOKS}/{hook_id}").status_code == 404


def test_validation_errors(actors: Actors) -> None:
    good = {"name": "v", "url": "http://127.0.0.1:9/x", "events": ["dag.success"]}
    with actors.client(actors.admin_key) as admin:
        for bad in (
            {"events": ["dag.exploded"]},
            {"events": []},
            {"events": ["dag.success", "dag.success"]},
            {"url": "ftp://127.0.0.1/x"},
            {"headers": {"webhook-id": "x"}},
            {"headers": {"bad name": "x"}},
            {"retry_policy": {"max_attempts": 11}},
            {"retry_policy": {"backoff_seconds": []}},
            {"name": ""},
        ):
            response = admin.post(HOOKS, json={**good, **bad})
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        for hostile in (
            "http://127.0.0.2/x",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
        ):
            response = admin.post(HOOKS, json={**good, "url": hostile})
            assert response.status_code == 400, (hostile, response.text)
            assert "non-public" in response.json()["error"]["message"]
        hook = created(admin, **good)
        refused = admin.patch(f"{HOOKS}/{hook['webhook_id']}", json={"url": "http://127.0.0.2/"})
        assert refused.status_code == 400
        admin.delete(f"{HOOKS}/{hook['webhook_id']}")


def test_tenant_walls(actors: Actors, rx: Receiver) -> None:
    body = {"name": "mine", "url": rx.url("/walls"), "events": ["dag.success"]}
    with (
        actors.client(actors.alice_key) as alice,
        actors.client(actors.bob_key) as bob,
        actors.client(actors.viewer_key) as viewer,
    ):
        hook = created(alice, **body)
        assert hook["tenant_id"] == "team-a"
        assert bob.get(f"{HOOKS}/{hook['webhook_id']}").status_code == 404
        assert hook["webhook_id"] not in [h["webhook_id"] for h in bob.get(HOOKS).json()["webhooks"]]
        assert bob.delete(f"{HOOKS}/{hook['webhook_id']}").status_code == 404
        assert bob.post(HOOKS, json={**body, "tenant_id": "team-a"}).status_code == 403
        assert viewer.post(HOOKS, json=body).status_code == 403
        assert alice.delete(f"{HOOKS}/{hook['webhook_id']}").status_code == 204


@pytest.fixture(scope="module")
def scheduler(airflow_server: harness.AirflowServer, airflow_home: Path) -> Iterator[harness.AirflowServer]:
    (airflow_home / "dags" / "webhook_e2e_dags.py").write_text(DAGS)
    airflow_server.start_scheduler()
    try:
        yield airflow_server
    finally:
        airflow_server.stop_scheduler()


def _trigger(client: httpx.Client, dag_id: str) -> None:
    for mutation in (f'mutation {{ unpauseDAG(dagId: "{dag_id}") {{ id }} }}',
                     f'mutation {{ triggerDAG(dagId: "{dag_id}") {{ id }} }}'):  # fmt: skip
        response = client.post("/graphql", json={"query": mutation})
        assert response.status_code == 200 and not response.json().get("errors"), response.text


def test_dag_runs_become_signed_filtered_deliveries(actors: Actors, scheduler: harness.AirflowServer) -> None:
    with (
        Receiver() as rx,
        actors.client(actors.admin_key) as admin,
        actors.client(actors.alice_key) as alice,
        actors.client(actors.bob_key) as bob,
    ):
        everything = created(admin, name="all", url=rx.url("/all"), events=ALL_EVENTS)
        by_tag = created(admin, name="prod", url=rx.url("/tag"), events=["dag.success", "dag.failure"],
                         filters={"tags": ["production"]})  # fmt: skip
        failures = ["dag.failure", "task.failure", "task.retry"]
        by_id = created(
            admin, name="fail", url=rx.url("/id"), events=failures, filters={"dag_ids": ["wh_fail"]}
        )
        team_a = created(alice, name="a", url=rx.url("/a"), events=["dag.success", "dag.failure"])
        team_b = created(bob, name="b", url=rx.url("/b"), events=["dag.success", "dag.failure"])

        def parsed() -> bool:
            query = "{ dags(limit: 1000) { edges { node { id } } } }"
            data = admin.post("/graphql", json={"query": query}).json().get("data") or {}
            return {"wh_ok", "wh_fail"} <= {
                e["node"]["id"] for e in (data.get("dags") or {}).get("edges", [])
            }

        scheduler.wait_for("the webhook DAGs are parsed", parsed, 240)
        _trigger(admin, "wh_ok")
        _trigger(admin, "wh_fail")

        def events_at(path: str) -> list[tuple[str, str, str | None]]:
            out = []
            for r in rx.requests:
                if r.path == path:
                    data = verify(everything["secret"] if path == "/all" else secrets[path], r)
                    out.append((data["event"], data["data"]["dag_id"], data["data"].get("task_id")))
            return out

        secrets = {
            "/tag": by_tag["secret"],
            "/id": by_id["secret"],
            "/a": team_a["secret"],
            "/b": team_b["secret"],
        }
        wanted = {("dag.success", "wh_ok", None), ("dag.failure", "wh_fail", None),
                  ("task.retry", "wh_fail", "flaky"), ("task.failure", "wh_fail", "flaky"),
                  ("task.success", "wh_ok", "work"), ("dag.running", "wh_ok", None)}  # fmt: skip
        scheduler.wait_for("every event reaches the receiver", lambda: wanted <= set(events_at("/all")), 300)

        # The reference's payload, signed (verify() raised otherwise).
        success = next(verify(everything["secret"], r) for r in rx.requests
                       if r.path == "/all" and b'"dag.success"' in r.body)  # fmt: skip
        data = success["data"]
        assert set(data) >= {"dag_id", "dag_run_id", "execution_date", "start_date", "end_date",
                             "duration_seconds", "state", "conf", "external_trigger"}  # fmt: skip
        assert data["state"] == "success" and data["external_trigger"] is True
        assert success["timestamp"].endswith("Z")
        retry = next(verify(everything["secret"], r) for r in rx.requests
                     if r.path == "/all" and b'"task.retry"' in r.body)  # fmt: skip
        assert retry["data"]["try_number"] == 1 and retry["data"]["map_index"] == -1

        # The collector queued every webhook's rows in the pass that queued /all's: filters and walls.
        scheduler.wait_for("the filtered deliveries arrive", lambda: len(events_at("/a")) >= 1
                           and len(events_at("/tag")) >= 1 and len(events_at("/id")) >= 3, 120)  # fmt: skip
        assert set(events_at("/tag")) == {("dag.success", "wh_ok", None)}
        assert set(events_at("/id")) == {("dag.failure", "wh_fail", None), ("task.retry", "wh_fail", "flaky"),
                                         ("task.failure", "wh_fail", "flaky")}  # fmt: skip
        assert set(events_at("/a")) == {("dag.success", "wh_ok", None)}
        assert events_at("/b") == []
        assert bob.get(f"{HOOKS}/{team_b['webhook_id']}/deliveries").json()["total"] == 0
        log = admin.get(
            f"{HOOKS}/{everything['webhook_id']}/deliveries", params={"event": "dag.failure"}
        ).json()
        assert log["total"] == 1 and log["deliveries"][0]["status"] == "succeeded"
        # Each delivery went out under one id.
        ids = [r.headers["webhook-id"] for r in rx.requests]
        assert len(ids) == len(set(ids))
        for hook in (everything, by_tag, by_id):
            admin.delete(f"{HOOKS}/{hook['webhook_id']}")
        alice.delete(f"{HOOKS}/{team_a['webhook_id']}")
        bob.delete(f"{HOOKS}/{team_b['webhook_id']}")
