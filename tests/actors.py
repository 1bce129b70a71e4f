"""Users, tenants and keys for end-to-end tests, made the way an operator would make them.

The session fixture ``actors`` (in ``tests/conftest.py``) calls ``make_actors`` once per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests import harness
from tests.conftest import SESSION_ENV

PASSWORD = "test-password-1"


@dataclass
class Actors:
    base_url: str
    admin_key: str  # platform-wide, made with `airflow-platform keys create`
    alice_key: str  # Op role, tenant team-a (its admin)
    bob_key: str  # Op role, tenant team-b (its admin)
    viewer_key: str  # Viewer role, default tenant
    secrets: list[str]

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        if key:
            headers["X-API-Key"] = key
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


#: Every secret the suite makes; a final test checks none of them reached a log.
MADE_SECRETS: list[str] = [PASSWORD, harness.ADMIN_PASSWORD]


def make_actors(airflow_server: harness.AirflowServer) -> Actors:
    harness.create_users(
        SESSION_ENV, [("alice", "Op", PASSWORD), ("bob", "Op", PASSWORD), ("viewer", "Viewer", PASSWORD)]
    )
    admin_key = harness.create_key(SESSION_ENV, harness.ADMIN_USER, "--name", "e2e admin")
    with httpx.Client(base_url=airflow_server.base_url, headers={"X-API-Key": admin_key}) as admin:
        for tenant, owner in (("team-a", "alice"), ("team-b", "bob")):
            r = admin.post(
                "/api/v1/platform/tenants",
                json={
                    "tenant_id": tenant,
                    "display_name": tenant.title(),
                    "admin_users": [f"{owner}@example.com"],
                },
            )
            assert r.status_code in (201, 409), r.text
    alice = harness.create_key(SESSION_ENV, "alice", "--tenant", "team-a")
    bob = harness.create_key(SESSION_ENV, "bob", "--tenant", "team-b")
    viewer = harness.create_key(SESSION_ENV, "viewer")
    made = [admin_key, alice, bob, viewer]
    MADE_SECRETS.extend(made)
    return Actors(airflow_server.base_url, admin_key, alice, bob, viewer, MADE_SECRETS)
