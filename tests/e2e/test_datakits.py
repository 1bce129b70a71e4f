"""The DataKit registry and deployments over HTTP: the reference's bodies, validation, walls,
immutability, tenant features and limits, spec files, status, rollback and undeploy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import Actors

pytestmark = pytest.mark.e2e
KITS = "/api/v1/datakits"
TENANTS = "/api/v1/platform/tenants"

#: The reference's register body, verbatim.
REFERENCE_KIT: dict[str, Any] = {
    "name": "customer-360-datakit",
    "version": "1.2.0",
    "description": "Customer 360 view transformation pipeline",
    "image": "registry.localhost/datakits/customer-360:1.2.0",
    "type": "transformation",
    "inputs": [
        {"name": "customers", "type": "table", "schema": "bronze"},
        {"name": "orders", "type": "table", "schema": "bronze"},
    ],
    "outputs": [{"name": "customer_360", "type": "table", "schema": "gold"}],
    "configuration": {
        "batch_size": {"type": "integer", "default": 1000, "description": "Processing batch size"},
        "parallel_tasks": {"type": "integer", "default": 4, "description": "Number of parallel tasks"},
    },
    "requirements": {"cpu": "2000m", "memory": "4Gi", "gpu": False},
    "tags": ["customer", "gold-layer", "analytics"],
}
#: The reference's deploy body, verbatim.
REFERENCE_DEPLOY: dict[str, Any] = {
    "environment": "production",
    "namespace": "analytics",
    "configuration": {"batch_size": 5000, "parallel_tasks": 8},
    "schedule": "0 2 * * *",
    "notifications": {"on_success": ["success@example.com"], "on_failure": ["alerts@example.com"]},
}


def kit(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(REFERENCE_KIT)
    body.update(changes)
    return body


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def datakits_folder() -> Path:
    return Path(SESSION_ENV["AIRFLOW_HOME"]) / "dags" / "platform_datakits"


@pytest.fixture(scope="module")
def admin(actors: Actors) -> httpx.Client:
    with actors.client(actors.admin_key) as client:
        yield client


def test_register_reference_body_idempotent_and_immutable(admin: httpx.Client) -> None:
    created = admin.post(KITS, json=REFERENCE_KIT)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == body["name"] == "customer-360-datakit"
    assert body["version"] == body["latest_version"] == "1.2.0"
    assert body["inputs"][0] == {
        "name": "customers",
        "type": "table",
        "schema": "bronze",
        "description": None,
    }
    assert body["configuration"]["batch_size"]["default"] == 1000
    assert [v["version"] for v in body["versions"]] == ["1.2.0"]
    # The same content again: accepted, nothing new.
    again = admin.post(KITS, json=REFERENCE_KIT)
    assert again.status_code == 200, again.text
    assert again.json()["versions"][0]["digest"] == body["versions"][0]["digest"]
    # Other content under the same version: refused, and the registered one is unchanged.
    changed = admin.post(KITS, json=kit(image="registry.localhost/datakits/customer-360:evil"))
    assert "never change" in error_of(changed, 409, "CONFLICT")["message"]
    assert admin.get(f"{KITS}/customer-360-datakit").json()["image"] == REFERENCE_KIT["image"]
    # The manifest file a task reads is there, with every default filled in.
    manifest = json.loads(
        (datakits_folder() / "manifests" / "customer-360-datakit" / "1.2.0.json").read_text()
    )
    assert manifest["image"] == REFERENCE_KIT["image"] and manifest["requirements"]["network"] is False


def test_register_as_datakit_yaml(admin: httpx.Client) -> None:
    document = yaml.safe_dump(kit(name="yaml-kit", version="0.1.0"))
    r = admin.post(KITS, content=document, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "yaml-kit"
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n'
    r = admin.post(KITS, content=bomb, headers={"Content-Type": "application/yaml"})
    assert "aliases" in error_of(r, 400, "VALIDATION_ERROR")["message"]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"version": "1.2"}, "semantic version"),
        ({"version": "01.2.0"}, "semantic version"),
        ({"image": "Not An Image!"}, "image reference"),
        ({"image": "registry.localhost/kits/x:tag with space"}, "image reference"),
        ({"name": "Customer_360"}, "name"),
        ({"name": "deployments"}, "reserved"),
        ({"inputs": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"outputs": [{"name": "Bad-Name"}]}, "outputs"),
        ({"configuration": {"n": {"type": "integer", "default": "ten"}}}, "expected integer"),
        ({"configuration": {"n": {"type": "boolean", "default": 1}}}, "expected boolean"),
        ({"configuration": {"n": {"type": "decimal"}}}, "configuration"),
        ({"requirements": {"cpu": "2 cores"}}, "Kubernetes quantity"),
        ({"requirements": {"memory": "4GB"}}, "Kubernetes quantity"),
        ({"type": "magic"}, "type"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_register_validation(admin: httpx.Client, changes: dict, needle: str) -> None:
    body = {**kit(), "name": "invalid-kit", **changes}
    error = error_of(admin.post(KITS, json=body), 400, "VALIDATION_ERROR")
    assert needle in json.dumps(error), error
    assert admin.get(f"{KITS}/invalid-kit").status_code == 404


def test_list_filters_and_pagination(admin: httpx.Client) -> None:
    for i, (type_, tags) in enumerate([("ingestion", ["raw", "s3"]), ("export", ["gold-layer"])]):
        r = admin.post(KITS, json=kit(name=f"list-kit-{i}", version="1.0.0", type=type_, tags=tags,
                                      description=f"Kit number {i} for listing"))  # fmt: skip
        assert r.status_code in (200, 201), r.text
    by_type = admin.get(KITS, params={"type": "ingestion"}).json()
    assert [k["name"] for k in by_type["datakits"]] == ["list-kit-0"]
    by_tags = admin.get(KITS, params={"tags": "gold-layer"}).json()
    assert {"customer-360-datakit", "list-kit-1"} <= {k["name"] for k in by_tags["datakits"]}
    assert all("gold-layer" in k["tags"] for k in by_tags["datakits"])
    both = admin.get(KITS, params=[("tags", "raw"), ("tags", "s3")]).json()
    assert [k["name"] for k in both["datakits"]] == ["list-kit-0"]
    searched = admin.get(KITS, params={"search": "NUMBER 1"}).json()
    assert [k["name"] for k in searched["datakits"]] == ["list-kit-1"]
    assert admin.get(KITS, params={"search": "%"}).json()["total_entries"] == 0  # LIKE wildcards are literal
    page = admin.get(KITS, params={"limit": 1, "offset": 1}).json()
    assert len(page["datakits"]) == 1 and page["total_entries"] >= 3
    error_of(admin.get(KITS, params={"type": "nope"}), 400, "VALIDATION_ERROR")


def test_versions_and_delete(admin: httpx.Client) -> None:
    for version in ("1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"):
        assert admin.post(KITS, json=kit(name="versioned", version=version)).status_code == 201
    got = admin.get(f"{KITS}/versioned").json()
    assert got["latest_version"] == "1.10.0"  # semver order, and a pre-release is never the default
    assert [v["version"] for v in got["versions"]] == ["2.0.0-rc.1", "1.10.0", "1.9.0", "1.0.0"]
    assert admin.get(f"{KITS}/versioned", params={"version": "1.9.0"}).json()["version"] == "1.9.0"
    error_of(admin.get(f"{KITS}/versioned", params={"version": "9.9.9"}), 404, "RESOURCE_NOT_FOUND")
    assert admin.delete(f"{KITS}/versioned/versions/1.9.0").status_code == 204
    error_of(admin.delete(f"{KITS}/versioned/versions/1.9.0"), 404, "RESOURCE_NOT_FOUND")
    assert not (datakits_folder() / "manifests" / "versioned" / "1.9.0.json").exists()


def test_deploy_reference_body_writes_spec_and_dag(admin: httpx.Client) -> None:
    r = admin.post(f"{KITS}/customer-360-datakit/deploy", json=REFERENCE_DEPLOY)
    assert r.status_code == 201, r.text
    deployment = r.json()
    assert deployment["id"] == deployment["dag_id"] == "datakit__customer-360-datakit__production"
    assert deployment["version"] == "1.2.0" and deployment["namespace"] == "analytics"
    assert deployment["configuration"] == {"batch_size": 5000, "parallel_tasks": 8}
    spec = json.loads((datakits_folder() / "deployments" / f"{deployment['id']}.json").read_text())
    assert spec["manifest"]["image"] == REFERENCE_KIT["image"] and spec["schedule"] == "0 2 * * *"
    assert (Path(SESSION_ENV["AIRFLOW_HOME"]) / "dags" / "platform_datakit_dags.py").is_file()
    # The kit shows which deployment runs which version; that version cannot be deleted now.
    versions = admin.get(f"{KITS}/customer-360-datakit").json()["versions"]
    assert versions[0]["deployments"] == [deployment["id"]]
    error_of(admin.delete(f"{KITS}/customer-360-datakit/versions/1.2.0"), 409, "CONFLICT")
    # Deploying again to the same environment updates it.
    again = admin.post(f"{KITS}/customer-360-datakit/deploy", json={**REFERENCE_DEPLOY, "schedule": "@daily"})
    assert again.status_code == 200 and again.json()["schedule"] == "@daily"
    status = admin.get(f"{KITS}/deployments/{deployment['id']}").json()
    assert [e["action"] for e in status["history"]][:2] == ["redeploy", "deploy"]
    assert status["status"] in ("pending", "active") and isinstance(status["last_runs"], list)
    listed = admin.get(f"{KITS}/customer-360-datakit/deployments").json()
    assert [d["id"] for d in listed["deployments"]] == [deployment["id"]]


def test_deployment_dag_builds_from_spec_without_db() -> None:
    """The factory turns the spec written above into a DAG, reading files only."""
    code = (
        "import json, sys\n"
        "from airflow_platform.datakits.dag_factory import build_dags\n"
        "dags = build_dags()\n"
        "dag = dags['datakit__customer-360-datakit__production']\n"
        "task = dag.get_task('run_datakit')\n"
        "print(json.dumps({'tags': sorted(dag.tags), 'image': task.manifest['image'],"
        " 'config': task.configuration, 'timetable': type(dag.timetable).__name__,"
        " 'callbacks': [type(c).__name__ for c in (dag.on_failure_callback or [])]}))\n"
    )
    out = harness.python_json(SESSION_ENV, code, forbid_db=True)
    assert out["image"] == REFERENCE_KIT["image"]
    assert out["config"] == {"batch_size": 5000, "parallel_tasks": 8}
    assert "datakit" in out["tags"] and "production" in out["tags"]
    assert "Cron" in out["timetable"]
    assert out["callbacks"] == ["SmtpNotifier"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"configuration": {"batch_size": "big"}}, "batch_size: expected integer"),
        ({"configuration": {"unknown_key": 1}}, "unknown_key: unknown key"),
        ({"schedule": "every day"}, "cron expression"),
        ({"schedule": "61 * * * *"}, "cron expression"),
        ({"notifications": {"on_failure": ["not-an-email"]}}, "e-mail"),
        ({"environment": "Prod_1"}, "environment"),
        ({"version": "9.9.9"}, "no version"),
        ({"inputs": {"nope": "bronze.x"}}, "not inputs"),
        ({"outputs": {"customer_360": "no-schema"}}, "schema.table"),
        ({"runtime": "lambda"}, "runtime"),
    ],
)
def test_deploy_validation(admin: httpx.Client, body: dict, needle: str) -> None:
    r = admin.post(f"{KITS}/customer-360-datakit/deploy", json={"environment": "staging", **body})
    assert r.status_code in (400, 404), r.text
    assert needle in json.dumps(r.json()["error"]), r.json()
    assert not (datakits_folder() / "deployments" / "datakit__customer-360-datakit__staging.json").exists()


def test_rollback_and_undeploy(admin: httpx.Client) -> None:
    name = "rollback-kit"
    for version in ("1.0.0", "1.1.0"):
        assert admin.post(KITS, json=kit(name=name, version=version)).status_code == 201
    dep = admin.post(f"{KITS}/{name}/deploy", json={"environment": "dev"}).json()
    assert dep["version"] == "1.1.0"
    rolled = admin.post(f"{KITS}/{name}/rollback", json={"version": "1.0.0", "environment": "dev"})
    assert rolled.status_code == 200 and rolled.json()["version"] == "1.0.0"
    spec = json.loads((datakits_folder() / "deployments" / f"{dep['id']}.json").read_text())
    assert spec["version"] == spec["manifest"]["version"] == "1.0.0"
    error_of(
        admin.post(f"{KITS}/{name}/rollback", json={"version": "1.0.0", "environment": "dev"}),
        409,
        "CONFLICT",
    )
    error_of(admin.post(f"{KITS}/{name}/rollback", json={"version": "0.1.0", "environment": "dev"}), 404,
             "RESOURCE_NOT_FOUND")  # fmt: skip
    history = admin.get(f"{KITS}/deployments/{dep['id']}").json()["history"]
    assert [e["action"] for e in history] == ["rollback", "deploy"]
    # 1.1.0 is no longer used: it can go; 1.0.0 cannot.
    assert admin.delete(f"{KITS}/{name}/versions/1.1.0").status_code == 204
    error_of(admin.delete(f"{KITS}/{name}/versions/1.0.0"), 409, "CONFLICT")
    assert admin.delete(f"{KITS}/deployments/{dep['id']}").status_code == 204
    assert not (datakits_folder() / "deployments" / f"{dep['id']}.json").exists()
    error_of(admin.get(f"{KITS}/deployments/{dep['id']}"), 404, "RESOURCE_NOT_FOUND")
    assert admin.delete(f"{KITS}/{name}/versions/1.0.0").status_code == 204  # last version: kit gone
    error_of(admin.get(f"{KITS}/{name}"), 404, "RESOURCE_NOT_FOUND")


def test_tenant_walls(actors: Actors) -> None:
    with (
        actors.client(actors.alice_key, **{"X-Tenant-ID": "team-a"}) as alice,
        actors.client(actors.bob_key, **{"X-Tenant-ID": "team-b"}) as bob,
    ):
        assert alice.post(KITS, json=kit(name="alice-kit", version="1.0.0")).status_code == 201
        # Bob cannot see, deploy, take the name of or delete alice's kit.
        error_of(bob.get(f"{KITS}/alice-kit"), 404, "RESOURCE_NOT_FOUND")
        assert "alice-kit" not in {k["name"] for k in bob.get(KITS).json()["datakits"]}
        error_of(bob.post(f"{KITS}/alice-kit/deploy", json={}), 404, "RESOURCE_NOT_FOUND")
        error_of(bob.post(KITS, json=kit(name="alice-kit", version="2.0.0")), 409, "CONFLICT")
        error_of(bob.delete(f"{KITS}/alice-kit/versions/1.0.0"), 404, "RESOURCE_NOT_FOUND")
        dep = alice.post(f"{KITS}/alice-kit/deploy", json={"environment": "dev"}).json()
        assert dep["tenant_id"] == "team-a"
        error_of(bob.get(f"{KITS}/deployments/{dep['id']}"), 404, "RESOURCE_NOT_FOUND")
        assert dep["id"] not in {d["id"] for d in bob.get(f"{KITS}/deployments").json()["deployments"]}
        error_of(bob.delete(f"{KITS}/deployments/{dep['id']}"), 404, "RESOURCE_NOT_FOUND")
        # A shared kit (registered by a platform admin for no tenant) is visible and deployable by all,
        # changeable by none of them.
        assert bob.get(f"{KITS}/customer-360-datakit").status_code == 200
        error_of(bob.delete(f"{KITS}/customer-360-datakit/versions/1.2.0"), 403, "PERMISSION_DENIED")


def test_viewer_reads_only(actors: Actors) -> None:
    with actors.client(actors.viewer_key) as viewer:
        assert viewer.get(KITS).status_code == 200
        error_of(viewer.post(KITS, json=kit(name="viewer-kit")), 403, "PERMISSION_DENIED")
        error_of(viewer.post(f"{KITS}/customer-360-datakit/deploy", json={}), 403, "PERMISSION_DENIED")


def test_tenant_features_and_resource_limits(actors: Actors, admin: httpx.Client) -> None:
    harness.create_users(SESSION_ENV, [("carol", "Op", "test-password-1")])
    r = admin.post(TENANTS, json={"tenant_id": "small-team", "display_name": "Small",
                                  "resource_limits": {"cpu": "1000m", "memory": "2Gi", "gpu": "0"},
                                  "admin_users": ["carol@example.com"]})  # fmt: skip
    assert r.status_code == 201, r.text
    key = harness.create_key(SESSION_ENV, "carol", "--tenant", "small-team")
    with actors.client(key) as carol:
        too_big = carol.post(KITS, json=kit(name="big-kit", version="1.0.0"))  # 2000m / 4Gi
        error = error_of(too_big, 400, "VALIDATION_ERROR")
        assert "requirements.cpu 2000m exceeds the limit 1000m" in error["message"]
        assert "requirements.memory 4Gi exceeds the limit 2Gi" in error["message"]
        gpu = carol.post(KITS, json=kit(name="gpu-kit", version="1.0.0",
                                        requirements={"cpu": "500m", "gpu": True}))  # fmt: skip
        assert "GPU limit" in error_of(gpu, 400, "VALIDATION_ERROR")["message"]
        fits = carol.post(KITS, json=kit(name="small-kit", version="1.0.0",
                                         requirements={"cpu": "500m", "memory": "1Gi"}))  # fmt: skip
        assert fits.status_code == 201, fits.text
        # A shared kit asking for more than the tenant may use cannot be deployed by it.
        shared = carol.post(f"{KITS}/customer-360-datakit/deploy", json={"environment": "small"})
        error = error_of(shared, 400, "VALIDATION_ERROR")
        assert "exceeds the limit" in error["message"]
        # Turning the feature off closes every DataKit call to the tenant.
        assert admin.patch(f"{TENANTS}/small-team", json={"features": {"datakits": False}}).status_code == 200
        for response in (carol.get(KITS), carol.post(f"{KITS}/small-kit/deploy", json={}),
                         carol.get(f"{KITS}/deployments")):  # fmt: skip
            assert "datakits" in error_of(response, 403, "PERMISSION_DENIED")["message"]
        # The tenant still owns its kit: deleting it needs force, and force removes the files too.
        error_of(admin.delete(f"{TENANTS}/small-team"), 409, "CONFLICT")
        assert admin.delete(f"{TENANTS}/small-team", params={"force": "true"}).status_code == 204
        assert not (datakits_folder() / "manifests" / "small-kit" / "1.0.0.json").exists()
        error_of(admin.get(f"{KITS}/small-kit"), 404, "RESOURCE_NOT_FOUND")


def test_openapi_documents_datakits(admin: httpx.Client) -> None:
    document = admin.get("/api/v1/platform/openapi.json").json()
    assert "application/yaml" in document["paths"]["/api/v1/datakits"]["post"]["requestBody"]["content"]
    for path in ("/api/v1/datakits/{datakit_id}/deploy", "/api/v1/datakits/deployments/{deployment_id}",
                 "/api/v1/datakits/{datakit_id}/rollback"):  # fmt: skip
        assert path in document["paths"]


def test_concurrent_first_deploys_make_one_deployment(admin: httpx.Client, actors: Actors) -> None:
    """Eight clients deploy the same new environment at once: one creates it, the others update it."""
    from concurrent.futures import ThreadPoolExecutor

    assert admin.post(KITS, json=kit(name="race-kit", version="1.0.0")).status_code == 201

    def deploy(i: int) -> int:
        with actors.client(actors.admin_key) as client:
            body = {"environment": "race", "configuration": {"batch_size": i + 1}}
            return client.post(f"{KITS}/race-kit/deploy", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(deploy, range(8)))
    assert sorted(codes) == [200] * 7 + [201], codes
    history = admin.get(f"{KITS}/deployments/datakit__race-kit__race").json()["history"]
    assert sorted(e["action"] for e in history) == ["deploy"] + ["redeploy"] * 7
    assert admin.delete(f"{KITS}/deployments/datakit__race-kit__race").status_code == 204
