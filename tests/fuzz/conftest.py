"""Fuzzing fixtures: a fresh platform-admin key of the fuzzer's own, and clean-up of what it made.

The fuzzers run against the session's real server (``airflow_server``), which later test modules
share, so whatever the fuzzer creates (tenants, connections, OAuth clients, saved queries,
webhooks) is deleted afterwards; DataKits stay (there is no delete of a whole kit, only of versions).
The fixtures' own actors (tenants team-a/team-b/default, every key made before fuzzing) are never
the target of a destructive call (see ``protected_ids`` and ``st_hooks.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import harness
from tests.actors import MADE_SECRETS, Actors
from tests.conftest import SESSION_ENV

#: Collections the fuzzer may fill, with the field that names an item: (list path, id field, delete path).
COLLECTIONS: tuple[tuple[str, str, str], ...] = (
    ("/api/v1/analytics/saved-queries", "id", "/api/v1/analytics/saved-queries/{}"),
    ("/api/v1/platform/webhooks", "webhook_id", "/api/v1/platform/webhooks/{}"),
    ("/api/v1/platform/connections", "connection_id", "/api/v1/platform/connections/{}"),
    ("/api/v1/platform/oauth-clients", "client_id", "/api/v1/platform/oauth-clients/{}"),
    ("/api/v1/platform/tenants", "tenant_id", "/api/v1/platform/tenants/{}?force=true"),
)


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return value
    return []


def _snapshot(client: httpx.Client) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for path, field, _ in COLLECTIONS:
        response = client.get(path, params={"limit": 1000})
        if response.status_code == 200:
            seen[path] = {str(item.get(field)) for item in _items(response.json())}
    return seen


@pytest.fixture(scope="session")
def fuzz_admin_key(actors: Actors) -> str:
    """A platform-admin key of the fuzzer's own: the fuzzer may revoke keys, never the actors'."""
    key = harness.create_key(SESSION_ENV, harness.ADMIN_USER, "--name", "fuzz admin")
    MADE_SECRETS.append(key)
    return key


@pytest.fixture(scope="session")
def protected_ids(actors: Actors) -> set[str]:
    """Ids of what other tests rely on: the fixtures' tenants and every key that exists before fuzzing."""
    ids = {"team-a", "team-b", "default"}
    with actors.client(actors.admin_key) as admin:
        response = admin.get("/api/v1/platform/api-keys", params={"limit": 1000})
        if response.status_code == 200:
            ids |= {str(item.get("key_id")) for item in _items(response.json())}
    return ids


@pytest.fixture(scope="session")
def fuzz_cleanup(actors: Actors, fuzz_admin_key: str) -> Iterator[None]:
    with actors.client(actors.admin_key) as admin:
        before = _snapshot(admin)
        yield
        after = _snapshot(admin)
        for path, _, delete in COLLECTIONS:
            for made in after.get(path, set()) - before.get(path, set()):
                admin.delete(delete.format(made))
