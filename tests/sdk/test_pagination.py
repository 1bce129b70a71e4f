"""List calls answer a page that also walks every following page."""

from __future__ import annotations

import asyncio

import httpx
import respx

from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.sdk.fakes import BASE, dag_v2, paged, tenant

TENANTS = "/api/v1/platform/tenants"


def test_iterating_a_page_fetches_the_following_pages(airflow3: respx.MockRouter) -> None:
    route = airflow3.get("/api/v2/dags").mock(side_effect=paged([dag_v2(f"d{i}") for i in range(7)], "dags"))
    with PlatformClient(BASE, api_key="k") as client:
        page = client.dags.list(limit=3)
        assert [d.dag_id for d in page.dags] == ["d0", "d1", "d2"]
        assert page.total_entries == 7 and page.has_next_page()
        assert route.call_count == 1, "pages are fetched on demand"
        assert [d.dag_id for d in page] == [f"d{i}" for i in range(7)]
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "3", "6"]


def test_the_references_manual_loop(airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags").mock(side_effect=paged([dag_v2(f"d{i}") for i in range(250)], "dags"))
    client = PlatformClient(BASE, api_key="k")
    all_dags = []
    offset = 0
    limit = 100
    while True:
        response = client.dags.list(limit=limit, offset=offset)
        all_dags.extend(response.dags)
        if len(response.dags) < limit:
            break
        offset += limit
    assert len(all_dags) == 250 and all_dags[-1].dag_id == "d249"


def test_pages_of_tenants_and_explicit_page_walking(api: respx.MockRouter) -> None:
    api.get(TENANTS).mock(side_effect=paged([tenant(f"t{i}") for i in range(5)], "tenants"))
    with PlatformClient(BASE, api_key="k") as client:
        first = client.tenants.list(limit=2)
        pages = list(first.iter_pages())
        assert [len(p.tenants) for p in pages] == [2, 2, 1]
        assert [p.offset for p in pages] == [0, 2, 4]
        assert pages[-1].next_page() is None


def test_unknown_total_pages_until_a_short_page(airflow3: respx.MockRouter) -> None:
    items = [{"task_id": f"t{i}", "dag_id": "d", "dag_run_id": "r"} for i in range(5)]

    def answer(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(
            200, json={"task_instances": items[offset : offset + limit], "total_entries": None}
        )

    airflow3.get("/api/v2/dags/d/dagRuns/r/taskInstances").mock(side_effect=answer)
    with PlatformClient(BASE, api_key="k") as client:
        assert [t.task_id for t in client.tasks.get_instances("d", "r", limit=2)] == [
            f"t{i}" for i in range(5)
        ]


def test_empty_list(airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags").respond(json={"dags": [], "total_entries": 0})
    with PlatformClient(BASE, api_key="k") as client:
        page = client.dags.list()
        assert page.dags == [] and list(page) == [] and not page.has_next_page()


def test_async_paginator_is_awaitable_and_async_iterable(airflow3: respx.MockRouter) -> None:
    airflow3.get("/api/v2/dags").mock(side_effect=paged([dag_v2(f"d{i}") for i in range(5)], "dags"))

    async def main() -> tuple[list[str], list[str], int | None]:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            every = [dag.dag_id async for dag in client.dags.list(limit=2)]
            page = await client.dags.list(limit=2)
            walked = [dag.dag_id async for dag in page]
            return every, [d.dag_id for d in page.dags], len(walked)

    every, first, walked = asyncio.run(main())
    assert every == [f"d{i}" for i in range(5)] and first == ["d0", "d1"] and walked == 5
