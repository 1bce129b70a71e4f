"""``client.datakits`` against respx: the wire it speaks, its client-side checks and error mapping."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.sdk.fakes import BASE, datakit, deployment, deployment_status, envelope, paged

KITS = "/api/v1/datakits"
DEPLOYMENTS = "/api/v1/datakits/deployments"
DAG_ID = "datakit__customer-etl__production"


def sent(route: respx.Route) -> object:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def client() -> PlatformClient:
    return PlatformClient(BASE, api_key="k")


def test_register_as_the_reference_writes_it(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(KITS).respond(201, json=datakit())
    kit = client.datakits.register(
        name="customer-etl",
        version="1.0.0",
        image="registry.localhost/datakits/customer-etl:1.0.0",
        inputs=[{"name": "customers", "type": "table"}],
        outputs=[{"name": "dim_customer", "type": "table"}],
    )
    assert kit.id == "customer-etl" and kit.versions[0].version == "1.0.0"
    assert sent(route) == {
        "name": "customer-etl",
        "version": "1.0.0",
        "image": "registry.localhost/datakits/customer-etl:1.0.0",
        "inputs": [{"name": "customers", "type": "table", "schema": "bronze"}],
        "outputs": [{"name": "dim_customer", "type": "table", "schema": "silver"}],
    }


def test_register_a_manifest_dict_with_keywords_on_top(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(KITS).respond(200, json=datakit(version="1.1.0"))
    manifest = {"name": "customer-etl", "version": "1.0.0", "image": "kits/etl:1.0.0", "tags": ["a"]}
    client.datakits.register(manifest=manifest, version="1.1.0", image="kits/etl:1.1.0")
    body = sent(route)
    assert body == {"name": "customer-etl", "version": "1.1.0", "image": "kits/etl:1.1.0", "tags": ["a"]}
    assert manifest["version"] == "1.0.0", "the caller's dict is not changed"


def test_register_refuses_a_bad_manifest_before_any_request(
    api: respx.MockRouter, client: PlatformClient
) -> None:
    with pytest.raises(exc.ValidationError) as caught:
        client.datakits.register(name="etl", version="1.0", image="kits/etl:1")
    assert caught.value.details["errors"][0]["field"] == "version"
    with pytest.raises(exc.ValidationError, match="image"):
        client.datakits.register(name="etl", version="1.0.0", image="Not An Image")
    assert not api.calls


def test_register_is_retried_like_a_put_because_the_same_version_is_idempotent(
    api: respx.MockRouter, client: PlatformClient, sleeps: list[float]
) -> None:
    route = api.post(KITS).mock(
        side_effect=[envelope("SERVICE_UNAVAILABLE", "db", 503), httpx.Response(200, json=datakit())]
    )
    client.datakits.register(name="customer-etl", version="1.0.0", image="kits/etl:1.0.0")
    assert route.call_count == 2 and len(sleeps) == 1


def test_a_changed_version_is_a_conflict(api: respx.MockRouter, client: PlatformClient) -> None:
    api.post(KITS).mock(
        return_value=envelope("CONFLICT", "customer-etl 1.0.0 is registered with other content", 409)
    )
    with pytest.raises(exc.ConflictError) as caught:
        client.datakits.register(name="customer-etl", version="1.0.0", image="kits/etl:1.0.0")
    assert caught.value.status == 409 and caught.value.request_id == "req_server"


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_register_file(api: respx.MockRouter, client: PlatformClient, tmp_path: Path, suffix: str) -> None:
    route = api.post(KITS).respond(201, json=datakit())
    manifest = {
        "name": "customer-etl",
        "version": "1.0.0",
        "image": "kits/etl:1.0.0",
        "configuration": {"batch_size": {"type": "integer", "default": 1000}},
    }
    path = tmp_path / f"datakit.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(manifest))
    else:
        path.write_text(
            "name: customer-etl\nversion: 1.0.0\nimage: kits/etl:1.0.0\n"
            "configuration:\n  batch_size:\n    type: integer\n    default: 1000\n"
        )
    client.datakits.register_file(path, image="registry.localhost/kits/etl:1.0.0")
    assert sent(route) == {**manifest, "image": "registry.localhost/kits/etl:1.0.0"}


def test_register_file_says_what_is_wrong(client: PlatformClient, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Cannot read"):
        client.datakits.register_file(tmp_path / "missing.yaml")
    bad = tmp_path / "datakit.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML/JSON"):
        client.datakits.register_file(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="one manifest"):
        client.datakits.register_file(bad)


def test_list_filters_and_pages_by_itself(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.get(KITS).mock(side_effect=paged([datakit(f"kit-{i}") for i in range(5)], "datakits"))
    page = client.datakits.list(type="transformation", tags=["customer", "gold"], search="etl", limit=2)
    assert [k.name for k in page.datakits] == ["kit-0", "kit-1"] and page.total_entries == 5
    params = route.calls.last.request.url.params
    assert (params["type"], params["tags"], params["search"]) == ("transformation", "customer,gold", "etl")
    assert [k.name for k in page] == [f"kit-{i}" for i in range(5)]
    assert route.call_count == 3
    assert route.calls.last.request.url.params["offset"] == "4"
    assert route.calls.last.request.url.params["tags"] == "customer,gold", "filters stay on every page"


def test_get_with_and_without_version(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.get(f"{KITS}/customer-etl").respond(json=datakit())
    client.datakits.get("customer-etl")
    assert "version" not in route.calls.last.request.url.params
    client.datakits.get("customer-etl", version="1.0.0")
    assert route.calls.last.request.url.params["version"] == "1.0.0"
    api.get(f"{KITS}/nope").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No DataKit nope", 404))
    with pytest.raises(exc.ResourceNotFoundError, match="No DataKit nope"):
        client.datakits.get("nope")


def test_deploy_status_rollback_undeploy(api: respx.MockRouter, client: PlatformClient) -> None:
    deploy = api.post(f"{KITS}/customer-etl/deploy").respond(201, json=deployment())
    api.get(f"{DEPLOYMENTS}/{DAG_ID}").respond(json=deployment_status())
    rollback = api.post(f"{KITS}/customer-etl/rollback").respond(json=deployment(version="0.9.0"))
    undeploy = api.delete(f"{DEPLOYMENTS}/{DAG_ID}").respond(204)

    made = client.datakits.deploy(
        datakit_id="customer-etl",
        environment="production",
        schedule="0 2 * * *",
        configuration={"batch_size": 1000},
        notifications={"on_failure": ["alerts@example.com"]},
    )
    assert sent(deploy) == {
        "environment": "production",
        "schedule": "0 2 * * *",
        "configuration": {"batch_size": 1000},
        "notifications": {"on_failure": ["alerts@example.com"]},
    }
    current = client.datakits.get_deployment_status(made.id)
    assert (current.status, current.dag_present, str(current.next_run)) == (
        "active",
        True,
        "2024-01-16 02:00:00+00:00",
    )
    back = client.datakits.rollback("customer-etl", version="0.9.0", environment="production")
    assert back.version == "0.9.0" and sent(rollback) == {"version": "0.9.0", "environment": "production"}
    assert client.datakits.undeploy(made.id) is None and undeploy.called


def test_deploy_checks_its_body_and_is_not_retried(
    api: respx.MockRouter, client: PlatformClient, sleeps: list[float]
) -> None:
    route = api.post(f"{KITS}/etl/deploy").mock(return_value=envelope("SERVICE_UNAVAILABLE", "busy", 503))
    with pytest.raises(exc.ValidationError, match="environment"):
        client.datakits.deploy("etl", environment="Prod Env")
    with pytest.raises(exc.ValidationError, match="runtime"):
        client.datakits.deploy("etl", runtime="lambda")  # type: ignore[arg-type]
    assert not route.called
    with pytest.raises(exc.ServiceUnavailableError):
        client.datakits.deploy("etl")
    assert route.call_count == 1 and not sleeps, "a POST that may have run is never sent twice"


def test_delete_version_conflict_while_deployed(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.delete(f"{KITS}/customer-etl/versions/1.0.0%2Bbuild.1").mock(
        return_value=envelope("CONFLICT", "production runs 1.0.0+build.1", 409, deployments=[DAG_ID])
    )
    with pytest.raises(exc.ConflictError) as caught:
        client.datakits.delete_version("customer-etl", "1.0.0+build.1")
    assert caught.value.details == {"deployments": [DAG_ID]} and route.called


def test_list_deployments_of_a_kit_and_of_everything(api: respx.MockRouter, client: PlatformClient) -> None:
    per_kit = api.get(f"{KITS}/customer-etl/deployments").respond(
        json={"deployments": [deployment(), deployment(environment="staging")], "total_entries": 2}
    )
    every = api.get(DEPLOYMENTS).mock(
        side_effect=paged([deployment(f"kit-{i}") for i in range(3)], "deployments")
    )
    kit_page = client.datakits.list_deployments("customer-etl")
    assert [d.environment for d in kit_page.deployments] == ["production", "staging"]
    assert per_kit.calls.last.request.url.params["limit"] == "100"
    assert [d.datakit for d in client.datakits.list_deployments(limit=2)] == ["kit-0", "kit-1", "kit-2"]
    assert every.call_count == 2


def test_wait_for_deployment_polls_until_parsed(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.get(f"{DEPLOYMENTS}/{DAG_ID}").mock(
        side_effect=[
            httpx.Response(200, json=deployment_status("pending")),
            httpx.Response(200, json=deployment_status("pending")),
            httpx.Response(200, json=deployment_status("active")),
        ]
    )
    seen: list[str] = []
    final = client.datakits.wait_for_deployment(
        DAG_ID, poll_interval=0, on_poll=lambda s: seen.append(s.status)
    )
    assert final.status == "active" and seen == ["pending", "active"] and route.call_count == 3
    api.get(f"{DEPLOYMENTS}/{DAG_ID}").respond(json=deployment_status("pending"))
    with pytest.raises(TimeoutError, match="still pending"):
        client.datakits.wait_for_deployment(DAG_ID, timeout=0, poll_interval=0)


def test_async_datakits(api: respx.MockRouter, tmp_path: Path) -> None:
    api.post(KITS).respond(201, json=datakit())
    api.get(KITS).mock(side_effect=paged([datakit(f"kit-{i}") for i in range(3)], "datakits"))
    api.get(f"{KITS}/customer-etl").respond(json=datakit())
    api.post(f"{KITS}/customer-etl/deploy").respond(201, json=deployment())
    api.get(f"{KITS}/customer-etl/deployments").respond(
        json={"deployments": [deployment()], "total_entries": 1}
    )
    api.get(f"{DEPLOYMENTS}/{DAG_ID}").mock(
        side_effect=[
            httpx.Response(200, json=deployment_status("pending")),
            httpx.Response(200, json=deployment_status("active")),
        ]
    )
    api.post(f"{KITS}/customer-etl/rollback").respond(json=deployment(version="0.9.0"))
    api.delete(f"{DEPLOYMENTS}/{DAG_ID}").respond(204)
    api.delete(f"{KITS}/customer-etl/versions/0.9.0").mock(return_value=envelope("CONFLICT", "in use", 409))
    path = tmp_path / "datakit.yaml"
    path.write_text("name: customer-etl\nversion: 1.0.0\nimage: kits/etl:1.0.0\n")

    async def main() -> None:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            assert (await client.datakits.register_file(path)).id == "customer-etl"
            assert (await client.datakits.register(name="customer-etl", version="1.0.0", image="k/e:1")).id
            first = await client.datakits.list(limit=2)
            assert [k.name for k in first.datakits] == ["kit-0", "kit-1"]
            assert [k.name async for k in client.datakits.list(limit=2)] == ["kit-0", "kit-1", "kit-2"]
            assert (await client.datakits.get("customer-etl")).latest_version == "1.0.0"
            made = await client.datakits.deploy(datakit_id="customer-etl", schedule="@daily")
            assert [d.id async for d in client.datakits.list_deployments("customer-etl")] == [made.id]
            assert (await client.datakits.wait_for_deployment(made.id, poll_interval=0)).status == "active"
            assert (await client.datakits.rollback("customer-etl", version="0.9.0")).version == "0.9.0"
            with pytest.raises(exc.ConflictError):
                await client.datakits.delete_version("customer-etl", "0.9.0")
            await client.datakits.undeploy(made.id)

    asyncio.run(main())
