"""``AsyncPlatformClient`` does what ``PlatformClient`` does, on the same core."""

from __future__ import annotations

import asyncio
import inspect
import json

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.sdk.fakes import BASE, api_key, dag_v2, envelope, run_v2, tenant

TENANTS = "/api/v1/platform/tenants"


def test_same_namespaces_and_methods() -> None:
    sync, aio = PlatformClient(BASE, api_key="k"), AsyncPlatformClient(BASE, api_key="k")
    for name in ("dags", "tasks", "tenants", "api_keys", "connections", "datakits", "analytics"):
        sync_ns, async_ns = getattr(sync, name), getattr(aio, name)
        public = {m for m in dir(sync_ns) if not m.startswith("_")}
        assert public == {m for m in dir(async_ns) if not m.startswith("_")}, name
        for method in public:
            s, a = inspect.signature(getattr(sync_ns, method)), inspect.signature(getattr(async_ns, method))
            assert list(s.parameters) == list(a.parameters), f"{name}.{method}"
    assert sync.dags is sync.dags, "namespaces are cached"


def test_async_flows(airflow3: respx.MockRouter, sleeps: list[float]) -> None:
    airflow3.get(f"{TENANTS}/a").mock(
        side_effect=[envelope("RATE_LIMIT_EXCEEDED", "slow", 429), httpx.Response(200, json=tenant("a"))]
    )
    airflow3.get("/api/v2/dags/nope").respond(404, json={"detail": "The Dag with ID: `nope` was not found"})
    trigger = airflow3.post(url__regex=r"/api/v2/dags/dag_\d/dagRuns").mock(
        side_effect=lambda request: httpx.Response(200, json=run_v2(request.url.path.split("/")[4], "r"))
    )
    airflow3.get("/api/v2/dags/dag_0/dagRuns/r").respond(json=run_v2("dag_0", "r", "success"))
    airflow3.post("/api/v1/platform/api-keys").respond(201, json={**api_key(), "key": "afp_new"})
    airflow3.patch("/api/v2/dags/d").respond(json=dag_v2("d", is_paused=True))

    async def main() -> None:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            assert (await client.tenants.get("a")).tenant_id == "a"
            assert sleeps and sleeps[0] > 0, "retried with the same policy"
            with pytest.raises(exc.ResourceNotFoundError):
                await client.dags.get("nope")
            runs = await asyncio.gather(*(client.dags.trigger(f"dag_{i}") for i in range(10)))
            assert sorted(r.dag_id for r in runs) == [f"dag_{i}" for i in range(10)]
            assert (await runs[0].refresh()).state == "success"
            assert (await client.api_keys.create("ci")).key == "afp_new"
            assert (await client.dags.pause("d")).is_paused is True

    asyncio.run(main())
    assert trigger.call_count == 10
    assert [c.request.url.path for c in airflow3.calls].count("/api/v1/platform/health") == 1, "detected once"
    assert json.loads(trigger.calls.last.request.content) == {"logical_date": None}


def test_async_oauth(api: respx.MockRouter) -> None:
    token = api.post("/oauth/token").respond(
        json={"access_token": "t", "token_type": "Bearer", "expires_in": 60, "scope": "*"}
    )
    route = api.get(TENANTS).respond(json={"tenants": [], "total_entries": 0})

    async def main() -> None:
        async with AsyncPlatformClient(BASE, client_id="c", client_secret="s") as client:
            await client.tenants.list()
            await client.tenants.list()

    asyncio.run(main())
    assert token.call_count == 1 and route.calls.last.request.headers["Authorization"] == "Bearer t"
