"""The SDK against the real server (Airflow 3.x api-server or 2.11 webserver, with the plugin)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient, UnsupportedFeatureError
from tests import harness
from tests.e2e.conftest import MADE_SECRETS, PASSWORD, Actors
from tests.sdk.example_dag import EXAMPLE_TASKS, example_dag

pytestmark = pytest.mark.e2e
__all__ = ["example_dag"]


@pytest.fixture
def admin(actors: Actors) -> Iterator[PlatformClient]:
    with PlatformClient(actors.base_url, api_key=actors.admin_key) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_health_and_version_detection(admin: PlatformClient) -> None:
    health = admin.health()
    assert health.status in ("healthy", "degraded")
    assert admin.airflow_version() == health.airflow_version
    assert int(health.airflow_version.split(".")[0]) == harness.airflow_major()


def test_dag_listing_pages_and_the_reference_loop(admin: PlatformClient) -> None:
    page = admin.dags.list(limit=2)
    assert isinstance(page.total_entries, int)
    every = [dag.dag_id for dag in page]
    assert len(every) == page.total_entries
    collected, offset, limit = [], 0, 2
    while True:
        response = admin.dags.list(limit=limit, offset=offset)
        collected.extend(response.dags)
        if len(response.dags) < limit:
            break
        offset += limit
    assert [d.dag_id for d in collected] == every
    assert admin.dags.list(tags=["no-such-tag-anywhere"]).dags == []


def test_missing_dag_maps_to_resource_not_found(admin: PlatformClient) -> None:
    for call in (
        lambda: admin.dags.get("nope"),
        lambda: admin.dags.trigger("nope", conf={"a": 1}),
        lambda: admin.dags.pause("nope"),
        lambda: admin.tasks.list("nope"),
        lambda: admin.tasks.get_logs(dag_id="nope", task_id="t", dag_run_id="r", try_number=1),
    ):
        with pytest.raises(exc.ResourceNotFoundError) as caught:
            call()
        assert caught.value.status == 404 and caught.value.code == "RESOURCE_NOT_FOUND"
        assert caught.value.message and caught.value.request_id


def test_backfill_per_airflow(admin: PlatformClient) -> None:
    if harness.airflow_major() >= 3:
        with pytest.raises(exc.ResourceNotFoundError):
            admin.dags.backfill("nope", start_date="2024-01-01", end_date="2024-01-02")
    else:
        with pytest.raises(UnsupportedFeatureError, match="not available over Airflow 2"):
            admin.dags.backfill("nope", start_date="2024-01-01", end_date="2024-01-02")


def test_tenant_round_trip(admin: PlatformClient) -> None:
    tenant_id = unique("sdk")
    created = admin.tenants.create(
        tenant_id,
        "SDK Team",
        resource_limits={"cpu": "4000m"},
        features={"datakits": True},
        admin_users=["alice@example.com"],
        metadata={"cost_center": "CC-1"},
    )
    assert (created.tenant_id, created.namespace) == (tenant_id, tenant_id)
    with pytest.raises(exc.ConflictError):
        admin.tenants.create(tenant_id, "Again")
    updated = admin.tenants.update(tenant_id, resource_limits={"memory": "16Gi"}, features={"datakits": None})
    assert updated.resource_limits == {"cpu": "4000m", "memory": "16Gi"} and updated.features == {}
    assert admin.tenants.get(tenant_id).display_name == "SDK Team"
    assert tenant_id in {t.tenant_id for t in admin.tenants.list()}
    admin.tenants.delete(tenant_id)
    with pytest.raises(exc.ResourceNotFoundError):
        admin.tenants.get(tenant_id)


def test_tenant_pages(admin: PlatformClient) -> None:
    made = [admin.tenants.create(unique("page"), f"Page {i}").tenant_id for i in range(5)]
    try:
        walked = [t.tenant_id for t in admin.tenants.list(limit=2)]
        looped: list[str] = []
        offset = 0
        while True:
            response = admin.tenants.list(limit=2, offset=offset)
            looped.extend(t.tenant_id for t in response.tenants)
            if len(response.tenants) < 2:
                break
            offset += 2
        assert walked == looped and set(made) <= set(walked)
        assert len(walked) == admin.tenants.list(limit=1).total_entries
    finally:
        for tenant_id in made:
            admin.tenants.delete(tenant_id)


def test_api_key_round_trip(actors: Actors) -> None:
    with PlatformClient(actors.base_url, api_key=actors.alice_key) as alice:
        created = alice.api_keys.create("sdk e2e", scopes=["tenants:read"], expires_in_days=1)
        MADE_SECRETS.append(created.key)
        assert created.key.startswith("afp_") and created.tenant_id == "team-a" and created.status == "active"
        assert created.id in {k.id for k in alice.api_keys.list()}
        assert alice.api_keys.get(created.id).prefix == created.prefix
        with PlatformClient(actors.base_url, api_key=created.key) as new:
            assert [t.tenant_id for t in new.tenants.list()] == ["team-a"]
            with pytest.raises(exc.PermissionDeniedError):
                new.tenants.create("nope-x", "x")
        assert alice.api_keys.revoke(created.id).status == "revoked"
    with (
        PlatformClient(actors.base_url, api_key=created.key) as revoked,
        pytest.raises(exc.AuthenticationError),
    ):
        revoked.tenants.list()


def test_errors_from_every_layer(actors: Actors) -> None:
    bad = "afp_" + "Z" * 42
    with PlatformClient(actors.base_url, api_key=bad) as client:
        with pytest.raises(exc.AuthenticationError) as platform_path:
            client.tenants.list()
        assert platform_path.value.request_id
        # Airflow's own API: the key is refused before Airflow (3.x) or Airflow refuses it (2.11: 403).
        with pytest.raises((exc.AuthenticationError, exc.PermissionDeniedError)):
            client.dags.list()
    with (
        PlatformClient(actors.base_url, api_key=actors.viewer_key) as viewer,
        pytest.raises(exc.PermissionDeniedError),
    ):
        viewer.tenants.create(unique("nope"), "x")
    with PlatformClient(actors.base_url, api_key=actors.alice_key) as alice:
        with pytest.raises(exc.ValidationError, match="Unknown scope") as server_side:
            alice.api_keys.create("x", scopes=["root"])
        assert server_side.value.details
        with pytest.raises(exc.ValidationError):  # refused by the client, same class
            alice.tenants.create("Bad Id", "x")


def test_airflow_login(actors: Actors) -> None:
    # alice belongs to several tenants by now (other tests add her): she names one.
    with PlatformClient(actors.base_url, username="alice", password=PASSWORD, tenant="team-a") as alice:
        assert [t.tenant_id for t in alice.tenants.list()] == ["team-a"]
        assert isinstance(alice.dags.list().total_entries, int)
    with (
        PlatformClient(actors.base_url, username="alice", password="wrong-password") as wrong,
        pytest.raises(
            (exc.AuthenticationError, exc.PermissionDeniedError)  # Airflow 2 answers a bad login with 403
        ),
    ):
        wrong.dags.list()


def test_tenant_header(actors: Actors) -> None:
    with PlatformClient(actors.base_url, api_key=actors.admin_key, tenant="team-b") as client:
        assert [t.tenant_id for t in client.tenants.list()] == ["team-b"]


def test_oauth_client_credentials(actors: Actors) -> None:
    response = httpx.post(
        f"{actors.base_url}/api/v1/platform/oauth-clients",
        headers={"X-API-Key": actors.admin_key},
        json={"name": "sdk e2e", "tenant_id": "team-a", "scopes": ["tenants:read", "airflow:read"]},
    )
    if response.status_code == 404:
        pytest.skip("the server has no OAuth2 clients yet")
    assert response.status_code == 201, response.text
    registered = response.json()
    MADE_SECRETS.append(registered["client_secret"])
    with PlatformClient(
        actors.base_url, client_id=registered["client_id"], client_secret=registered["client_secret"]
    ) as client:
        assert [t.tenant_id for t in client.tenants.list()] == ["team-a"]
        assert [t.tenant_id for t in client.tenants.list()] == ["team-a"]
        # The same token on Airflow's own API (the server swaps it for an Airflow JWT).
        assert isinstance(client.dags.list().total_entries, int)
    bad = PlatformClient(actors.base_url, client_id=registered["client_id"], client_secret="wrong")
    with bad, pytest.raises(exc.AuthenticationError):
        bad.tenants.list()


def test_async_client(actors: Actors) -> None:
    async def main() -> None:
        async with AsyncPlatformClient(actors.base_url, api_key=actors.admin_key) as client:
            health, page = await asyncio.gather(client.health(), client.tenants.list(limit=1))
            assert health.airflow_version == await client.airflow_version()
            assert page.total_entries and page.total_entries >= 3
            assert len([t async for t in client.tenants.list(limit=1)]) == page.total_entries
            with pytest.raises(exc.ResourceNotFoundError):
                await client.dags.get("nope")

    asyncio.run(main())


# --- with the example DAG (skipped until dags_examples/ has it) --------------------------------------


def test_example_dag(admin: PlatformClient, example_dag: str) -> None:
    dag = admin.dags.get(example_dag)
    assert "example" in dag.tag_names and dag.is_active is True
    assert dag.schedule_interval is not None and dag.next_dagrun is not None
    assert example_dag in {d.dag_id for d in admin.dags.list(tags=["example"])}
    tasks = {t.task_id: t for t in admin.tasks.list(example_dag)}
    assert list(tasks) == sorted(EXAMPLE_TASKS) or set(tasks) == set(EXAMPLE_TASKS)
    assert tasks["transform"].upstream_task_ids == ["extract"]
    assert admin.dags.pause(example_dag).is_paused is True
    assert admin.dags.unpause(example_dag).is_paused is False
    admin.dags.pause(example_dag)


def test_example_dag_runs(admin: PlatformClient, example_dag: str) -> None:
    run_id = unique("manual")
    run = admin.dags.trigger(dag_id=example_dag, conf={"batch_size": 5000}, run_id=run_id, note="sdk e2e")
    assert (run.dag_run_id, run.conf) == (run_id, {"batch_size": 5000})
    assert run.state in ("queued", "running") and run.refresh().dag_run_id == run_id
    with pytest.raises(exc.ConflictError):
        admin.dags.trigger(example_dag, run_id=run_id)
    assert run_id in {r.dag_run_id for r in admin.dags.runs(example_dag)}
    instances = {t.task_id: t for t in admin.tasks.get_instances(dag_id=example_dag, dag_run_id=run_id)}
    assert set(instances) == set(EXAMPLE_TASKS)
    cleared = admin.tasks.clear(example_dag, task_id="load", dag_run_id=run_id, dry_run=True)
    assert [t.task_id for t in cleared] in ([], ["load"])
