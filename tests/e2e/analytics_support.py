"""Shared pieces of the analytics end-to-end tests: fresh keys (each key has its own budget of
analytics queries, 100 an hour by default), the session warehouse, polling."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, Actors

QUERY = "/api/v1/analytics/query"
HISTORY = "/api/v1/analytics/queries"
ARROW = "application/vnd.apache.arrow.stream"
#: Runs for hours unless stopped: what timeouts and cancels are tried on.
LONG = "SELECT count(*) AS n FROM range(100000000000) a"
WAREHOUSE = SESSION_ENV["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]


def fresh_key(actors: Actors, owner_key: str, name: str) -> str:
    """A new key of the owner's user and tenant, with a query budget of its own."""
    with actors.client(owner_key) as c:
        r = c.post("/api/v1/platform/api-keys", json={"name": name})
        assert r.status_code == 201, r.text
        key = str(r.json()["key"])
    MADE_SECRETS.append(key)
    return key


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    return dict(body)


def run(c: httpx.Client, sql: str, **fields: Any) -> dict[str, Any]:
    r = c.post(QUERY, json={"query": sql, **fields})
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_final(c: httpx.Client, query_id: str, limit_s: float = 120, **params: Any) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        r = c.get(f"{QUERY}/{query_id}", params=params)
        assert r.status_code in (200, 202), r.text
        doc = dict(r.json())
        if doc["status"] in ("completed", "failed", "cancelled"):
            return doc
        assert time.monotonic() < deadline, f"{query_id} is still {doc['status']}"
        time.sleep(0.05)


def wait_status(c: httpx.Client, query_id: str, status: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while c.get(f"{QUERY}/{query_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"{query_id} never became {status}"
        time.sleep(0.02)


def key_set(actors: Actors, label: str) -> dict[str, str]:
    """Fresh keys of admin, alice and bob (the `keys` fixture of a module), warehouse seeded."""
    from airflow_platform.demo.warehouse import seed

    seed(WAREHOUSE)
    return {
        who: fresh_key(actors, getattr(actors, f"{who}_key"), f"{label} {who}")
        for who in ("admin", "alice", "bob")
    }
