"""The tenants API over HTTP: the reference's bodies, validation, merge, walls, delete."""

from __future__ import annotations

import httpx
import pytest

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e
TENANTS = "/api/v1/platform/tenants"

REFERENCE_BODY = {
    "tenant_id": "analytics-team",
    "display_name": "Analytics Team",
    "namespace": "analytics",
    "resource_limits": {"cpu": "4000m", "memory": "16Gi", "storage": "100Gi"},
    "features": {"datakits": True, "custom_operators": True, "external_connections": True},
    "admin_users": ["dora.tenant-admin@example.com", "alice@example.com"],
    "metadata": {"cost_center": "CC-123", "department": "Analytics", "environment": "production"},
}


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_reference_create_get_and_merge_patch(actors: Actors) -> None:
    with actors.client(actors.admin_key) as admin:
        created = admin.post(TENANTS, json=REFERENCE_BODY)
        assert created.status_code == 201, created.text
        tenant = created.json()
        for key in (
            "tenant_id",
            "display_name",
            "namespace",
            "resource_limits",
            "features",
            "admin_users",
            "metadata",
        ):
            assert tenant[key] == REFERENCE_BODY[key]
        error_of(admin.post(TENANTS, json=REFERENCE_BODY), 409, "CONFLICT")

        patched = admin.patch(
            f"{TENANTS}/analytics-team",
            json={"resource_limits": {"cpu": "8000m", "memory": "32Gi"}, "features": {"gpu_support": True}},
        ).json()
        assert patched["resource_limits"] == {"cpu": "8000m", "memory": "32Gi", "storage": "100Gi"}
        assert patched["features"] == {**REFERENCE_BODY["features"], "gpu_support": True}
        assert patched["metadata"] == REFERENCE_BODY["metadata"]
        removed = admin.patch(f"{TENANTS}/analytics-team", json={"metadata": {"environment": None}}).json()
        assert "environment" not in removed["metadata"] and removed["metadata"]["cost_center"] == "CC-123"
        assert admin.get(f"{TENANTS}/analytics-team").json() == removed


def test_admin_users_become_airflow_users(actors: Actors) -> None:
    users = {u["email"]: u for u in harness.airflow_json(SESSION_ENV, "users", "list")}
    # dora had no account: the tenant above made one; alice kept hers.
    assert users["dora.tenant-admin@example.com"]["roles"] == ["User"]
    assert users["alice@example.com"]["roles"] == ["Op"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"tenant_id": "Analytics"}, "tenant_id"),
        ({"tenant_id": "a" * 64}, "tenant_id"),
        ({"tenant_id": "under_score"}, "tenant_id"),
        ({"tenant_id": "-lead"}, "tenant_id"),
        ({"namespace": "Bad_NS"}, "namespace"),
        ({"resource_limits": {"cpu": "4 cores"}}, "resource_limits"),
        ({"resource_limits": {"memory": "16GB"}}, "resource_limits"),
        ({"resource_limits": {"disk": "1Gi"}}, "resource_limits"),
        ({"admin_users": ["not-an-email"]}, "admin_users"),
        ({"metadata": {"nested": {"a": 1}}}, "metadata"),
        ({"display_name": ""}, "display_name"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_validation_rules(actors: Actors, patch: dict, field: str) -> None:
    body = {"tenant_id": "valid-one", "display_name": "Valid", **patch}
    with actors.client(actors.admin_key) as admin:
        error = error_of(admin.post(TENANTS, json=body), 400, "VALIDATION_ERROR")
    assert field in error["message"]
    assert error["details"]["errors"][0]["field"].startswith(field)


def test_paging(actors: Actors) -> None:
    with actors.client(actors.admin_key) as admin:
        for i in range(3):
            admin.post(TENANTS, json={"tenant_id": f"page-{i}", "display_name": f"Page {i}"})
        first = admin.get(TENANTS, params={"limit": 2, "offset": 0}).json()
        second = admin.get(TENANTS, params={"limit": 2, "offset": 2}).json()
        assert len(first["tenants"]) == 2 and first["total_entries"] >= 5
        assert not {t["tenant_id"] for t in first["tenants"]} & {t["tenant_id"] for t in second["tenants"]}
        error_of(admin.get(TENANTS, params={"limit": 0}), 400, "VALIDATION_ERROR")


def test_features_gate_what_a_tenant_may_use(actors: Actors) -> None:
    with actors.client(actors.admin_key) as admin:
        admin.post(
            TENANTS,
            json={
                "tenant_id": "no-conns",
                "display_name": "No conns",
                "features": {"external_connections": False},
            },
        )
    key = harness.create_key(SESSION_ENV, "alice", "--tenant", "no-conns")
    MADE_SECRETS.append(key)
    with actors.client(key) as c:
        error = error_of(c.get("/api/v1/platform/connections"), 403, "PERMISSION_DENIED")
        assert "external_connections" in error["message"]
        assert c.get(TENANTS).status_code == 200


def test_delete_refused_while_owning_objects_unless_forced(actors: Actors) -> None:
    with actors.client(actors.admin_key) as admin:
        assert admin.post(TENANTS, json={"tenant_id": "doomed", "display_name": "Doomed"}).status_code == 201
        conn = {
            "connection_id": "doomed_conn",
            "connection_type": "http",
            "host": "127.0.0.1",
            "tenant_id": "doomed",
        }
        assert admin.post("/api/v1/platform/connections", json=conn).status_code == 201
    key = harness.create_key(SESSION_ENV, "alice", "--tenant", "doomed")
    MADE_SECRETS.append(key)
    with actors.client(actors.admin_key) as admin:
        error = error_of(admin.delete(f"{TENANTS}/doomed"), 409, "CONFLICT")
        assert error["details"]["owned"] == {"api_keys": 1, "connections": 1}
        assert "force=true" in error["message"]
        assert admin.delete(f"{TENANTS}/doomed", params={"force": "true"}).status_code == 204
        error_of(admin.get(f"{TENANTS}/doomed"), 404, "RESOURCE_NOT_FOUND")
        error_of(admin.get("/api/v1/platform/connections/doomed_conn"), 404, "RESOURCE_NOT_FOUND")
        error_of(admin.delete(f"{TENANTS}/default"), 409, "CONFLICT")
    with actors.client(key) as gone:
        error_of(gone.get(TENANTS), 401, "AUTHENTICATION_FAILED")


def test_members_see_only_their_tenant_and_cannot_write(actors: Actors) -> None:
    with actors.client(actors.bob_key) as bob:
        assert [t["tenant_id"] for t in bob.get(TENANTS).json()["tenants"]] == ["team-b"]
        error_of(bob.post(TENANTS, json={"tenant_id": "bobs", "display_name": "x"}), 403, "PERMISSION_DENIED")
        error_of(bob.patch(f"{TENANTS}/team-b", json={"display_name": "x"}), 403, "PERMISSION_DENIED")
