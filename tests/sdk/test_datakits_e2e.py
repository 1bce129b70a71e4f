"""``client.datakits`` against the real server: a kit's life from register to undeploy."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e
STATUSES = {"pending", "active", "paused", "failing", "import_error"}


def manifest(name: str, version: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "version": version,
        "description": "SDK end-to-end kit",
        "image": f"registry.localhost/datakits/{name}:{version}",
        "inputs": [{"name": "customers", "type": "table"}],
        "outputs": [{"name": "dim_customer", "type": "table", "schema": "gold"}],
        "configuration": {"batch_size": {"type": "integer", "default": 1000}},
        "tags": ["sdk-e2e", name],
        **extra,
    }


def test_datakit_life(actors: Actors, tmp_path: Path) -> None:
    name = f"sdk-kit-{uuid.uuid4().hex[:8]}"
    with PlatformClient(actors.base_url, api_key=actors.alice_key) as client:
        first = client.datakits.register(manifest=manifest(name, "1.0.0"))
        assert (first.id, first.version, first.latest_version) == (name, "1.0.0", "1.0.0")
        assert first.tenant_id == "team-a" and first.outputs[0]["schema"] == "gold"
        again = client.datakits.register(**manifest(name, "1.0.0"))  # type: ignore[arg-type]
        assert again.version == "1.0.0", "the same version and content registers again without harm"
        with pytest.raises(exc.ConflictError):
            client.datakits.register(manifest=manifest(name, "1.0.0", description="changed"))

        path = tmp_path / "datakit.yaml"
        path.write_text(
            f"name: {name}\nversion: 0.0.0\nimage: kits/x:dev\ntags: [sdk-e2e, {name}]\n"
            "inputs:\n  - name: customers\n    type: table\n"
            "configuration:\n  batch_size:\n    type: integer\n    default: 500\n"
        )
        second = client.datakits.register_file(
            path, version="1.1.0", image=f"registry.localhost/kits/{name}:1.1.0"
        )
        assert second.version == "1.1.0" and second.image.endswith(":1.1.0")

        assert [k.name for k in client.datakits.list(search=name)] == [name]
        assert [k.name for k in client.datakits.list(tags=["sdk-e2e", name], type="transformation")] == [name]
        assert client.datakits.list(tags=[name, "no-such-tag"]).datakits == []
        kit = client.datakits.get(name)
        assert kit.latest_version == "1.1.0" and {v.version for v in kit.versions} == {"1.0.0", "1.1.0"}
        assert client.datakits.get(name, version="1.0.0").image.endswith(":1.0.0")
        with pytest.raises(exc.ResourceNotFoundError):
            client.datakits.get(f"{name}-missing")

        with pytest.raises(exc.ValidationError):
            client.datakits.deploy(name, environment="staging", configuration={"batch_size": "many"})
        deployed = client.datakits.deploy(
            datakit_id=name, environment="staging", configuration={"batch_size": 5}, paused=True
        )
        assert (deployed.datakit, deployed.version, deployed.environment) == (name, "1.1.0", "staging")
        assert deployed.configuration["batch_size"] == 5
        status = client.datakits.get_deployment_status(deployed.id)
        assert status.status in STATUSES and status.version == "1.1.0"
        assert [d.id for d in client.datakits.list_deployments(name)] == [deployed.id]
        assert deployed.id in [d.id for d in client.datakits.list_deployments()]

        with pytest.raises(exc.ConflictError):
            client.datakits.delete_version(name, "1.1.0")
        back = client.datakits.rollback(name, version="1.0.0", environment="staging")
        assert back.version == "1.0.0" and back.id == deployed.id

        with PlatformClient(actors.base_url, api_key=actors.bob_key) as bob:
            with pytest.raises(exc.ResourceNotFoundError):
                bob.datakits.get(name)
            assert name not in [k.name for k in bob.datakits.list(search=name)]

        async def async_reads() -> tuple[str, list[str]]:
            async with AsyncPlatformClient(actors.base_url, api_key=actors.alice_key) as aclient:
                got = await aclient.datakits.get(name)
                names = [k.name async for k in aclient.datakits.list(search=name)]
                return got.latest_version, names

        assert asyncio.run(async_reads()) == ("1.1.0", [name])

        client.datakits.undeploy(deployed.id)
        with pytest.raises(exc.ResourceNotFoundError):
            client.datakits.get_deployment_status(deployed.id)
        client.datakits.delete_version(name, "1.1.0")
        assert client.datakits.get(name).latest_version == "1.0.0"
