"""The connections API over HTTP, against real PostgreSQL, DuckDB and HTTP endpoints."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import duckdb
import httpx
import pytest
import yaml

from tests import harness
from tests.conftest import SESSION_ENV
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e
CONNS = "/api/v1/platform/connections"


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[dict]:
    """A PostgreSQL role of its own, with a password no other string in the run shares."""
    import secrets as std_secrets

    import psycopg2

    parts = urlsplit(postgres_url)
    role, password = f"conn_{std_secrets.token_hex(4)}", f"pw-{std_secrets.token_urlsafe(16)}"
    MADE_SECRETS.append(password)
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
    yield {
        "connection_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "schema": parts.path.lstrip("/"),
        "login": role,
        "password": password,
    }
    with admin.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {role}")
    admin.close()


@pytest.fixture(scope="module")
def loopback_http() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_GET  # HttpHook tests with its default method, POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_crud_with_write_only_password(actors: Actors, pg: dict) -> None:
    secret_extra = "extra-token-value-123"
    MADE_SECRETS.append(secret_extra)
    body = {"connection_id": "warehouse_a", **pg, "extra": {"sslmode": "disable", "api_token": secret_extra}}
    with actors.client(actors.alice_key) as alice:
        created = alice.post(CONNS, json=body)
        assert created.status_code == 201, created.text
        got = created.json()
        assert got["password"] == "***" and got["extra"] == {"sslmode": "disable", "api_token": "***"}
        assert got["schema"] == pg["schema"] and got["tenant_id"] == "team-a"
        error_of(alice.post(CONNS, json=body), 409, "CONFLICT")

        one = alice.get(f"{CONNS}/warehouse_a")
        listed = alice.get(CONNS, params={"search": "warehouse", "connection_type": "postgres"})
        for response in (created, one, listed):
            assert pg["password"] not in response.text and secret_extra not in response.text
        assert [c["connection_id"] for c in listed.json()["connections"]] == ["warehouse_a"]

        patched = alice.patch(
            f"{CONNS}/warehouse_a",
            json={
                "description": "prod",
                "extra": {"api_token": "***", "connect_timeout": 5, "sslmode": None},
            },
        ).json()
        assert patched["host"] == pg["host"] and patched["description"] == "prod"
        assert patched["extra"] == {"api_token": "***", "connect_timeout": 5}
        assert patched["password"] == "***"

    shown = harness.airflow_json(SESSION_ENV, "connections", "get", "warehouse_a")
    row = shown[0] if isinstance(shown, list) else shown
    assert row["conn_type"] == "postgres" and row["host"] == pg["host"]
    extra = (
        json.loads(row["extra_dejson"] if "extra_dejson" in row else row["extra"])
        if isinstance(row.get("extra_dejson", row.get("extra")), str)
        else row.get("extra_dejson", {})
    )
    assert extra.get("api_token") == secret_extra and "sslmode" not in extra


def test_validation(actors: Actors) -> None:
    with actors.client(actors.alice_key) as alice:
        for bad in (
            {"connection_id": "bad id!", "connection_type": "postgres"},
            {"connection_id": "ok", "connection_type": "postgres", "port": 70000},
            {"connection_id": "ok", "connection_type": "postgres", "unknown": 1},
            {"connection_id": "ok"},
        ):
            error_of(alice.post(CONNS, json=bad), 400, "VALIDATION_ERROR")
        error_of(alice.get(f"{CONNS}/nope"), 404, "RESOURCE_NOT_FOUND")


def test_test_connection_real_targets(actors: Actors, pg: dict, loopback_http: int, tmp_path) -> None:
    db_file = tmp_path / "conn.duckdb"
    duckdb.connect(str(db_file)).close()
    conns = {
        "pg_ok": pg,
        "pg_refused": {**pg, "port": 5433 if pg["port"] != 5433 else 5434},
        "duck_ok": {"connection_type": "duckdb", "host": str(db_file)},
        "http_ok": {"connection_type": "http", "host": "127.0.0.1", "port": loopback_http, "schema": "http"},
    }
    with actors.client(actors.alice_key) as alice:
        for conn_id, fields in conns.items():
            assert alice.post(CONNS, json={"connection_id": conn_id, **fields}).status_code == 201
        results = {cid: alice.post(f"{CONNS}/{cid}/test").json() for cid in conns}
    for cid in ("pg_ok", "duck_ok", "http_ok"):
        assert results[cid]["status"] == "success", (cid, results[cid])
        assert results[cid]["message"] == "Connection successfully tested"
        assert results[cid]["latency_ms"] >= 0
    refused = results["pg_refused"]
    assert refused["status"] == "failed"
    assert str(conns["pg_refused"]["port"]) in refused["message"] and "refused" in refused["message"].lower()
    assert pg["password"] not in json.dumps(results)


def test_tenant_walls(actors: Actors, pg: dict) -> None:
    with actors.client(actors.alice_key) as alice:
        assert alice.post(CONNS, json={"connection_id": "alice_only", **pg}).status_code == 201
    with actors.client(actors.bob_key) as bob:
        for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test")):
            body = {"host": "evil"} if method == "PATCH" else None
            a = bob.request(method, f"{CONNS}/alice_only{suffix}", json=body)
            b = bob.request(method, f"{CONNS}/missing_one{suffix}", json=body)
            assert a.status_code == b.status_code == 404, (method, a.text)
        assert "alice_only" not in bob.get(CONNS).text
        assert "alice_only" not in bob.get(f"{CONNS}/export").text
        hostile = [{"connection_id": "alice_only", "connection_type": "http", "host": "evil"}]
        imported = bob.post(
            f"{CONNS}/import", params={"on_conflict": "overwrite"}, json={"connections": hostile}
        ).json()
        assert imported["skipped"] == ["alice_only"] and imported["updated"] == []
    with actors.client(actors.alice_key) as alice:
        assert alice.get(f"{CONNS}/alice_only").json()["host"] == pg["host"]


def test_export_import_round_trip(actors: Actors, pg: dict) -> None:
    with actors.client(actors.bob_key) as bob:
        for i in range(3):
            body = {
                "connection_id": f"bob_rt_{i}",
                **pg,
                "description": f"rt {i}",
                "extra": {"sslmode": "disable"},
            }
            assert bob.post(CONNS, json=body).status_code == 201
        exported = bob.get(f"{CONNS}/export", params={"format": "yaml"})
        assert exported.headers["content-type"].startswith("application/yaml")
        document = yaml.safe_load(exported.text)
        mine = [c for c in document["connections"] if c["connection_id"].startswith("bob_rt_")]
        assert len(mine) == 3 and all(c["password"] is None for c in mine)
        assert pg["password"] not in exported.text
        error_of(bob.get(f"{CONNS}/export", params={"include_secrets": "true"}), 403, "PERMISSION_DENIED")

        dry = bob.post(f"{CONNS}/import", params={"dry_run": "true"}, json={"connections": mine}).json()
        assert sorted(dry["unchanged"]) >= ["bob_rt_0", "bob_rt_1", "bob_rt_2"] and dry["created"] == []

        for i in range(3):
            assert bob.delete(f"{CONNS}/bob_rt_{i}").status_code == 204
        dry = bob.post(f"{CONNS}/import", params={"dry_run": "true"}, json={"connections": mine}).json()
        assert sorted(dry["created"]) == ["bob_rt_0", "bob_rt_1", "bob_rt_2"]
        assert bob.get(f"{CONNS}/bob_rt_0").status_code == 404  # dry run changed nothing

        done = bob.post(
            f"{CONNS}/import",
            content=yaml.safe_dump({"connections": mine}),
            headers={"Content-Type": "application/yaml"},
        ).json()
        assert sorted(done["created"]) == ["bob_rt_0", "bob_rt_1", "bob_rt_2"] and not done["dry_run"]
        restored = bob.get(f"{CONNS}/bob_rt_1").json()
        assert restored["description"] == "rt 1" and restored["extra"] == {"sslmode": "disable"}

        changed = [{**mine[0], "host": "other.example"}]
        error_of(bob.post(f"{CONNS}/import", json={"connections": changed}), 409, "CONFLICT")
        assert bob.get(f"{CONNS}/bob_rt_0").json()["host"] == pg["host"]
        skip = bob.post(
            f"{CONNS}/import", params={"on_conflict": "skip"}, json={"connections": changed}
        ).json()
        assert skip["skipped"] == ["bob_rt_0"]
        over = bob.post(
            f"{CONNS}/import", params={"on_conflict": "overwrite"}, json={"connections": changed}
        ).json()
        assert over["updated"] == ["bob_rt_0"]
        assert bob.get(f"{CONNS}/bob_rt_0").json()["host"] == "other.example"
        error_of(
            bob.post(
                f"{CONNS}/import", content=b"connections: [", headers={"Content-Type": "application/yaml"}
            ),
            400,
            "VALIDATION_ERROR",
        )
        bomb = b'a: &a ["x","x"]\nb: &b [*a,*a]\nconnections: [*b,*b]\n'
        refused = bob.post(f"{CONNS}/import", content=bomb, headers={"Content-Type": "application/yaml"})
        assert "aliases" in error_of(refused, 400, "VALIDATION_ERROR")["message"]


def test_admin_secret_export_round_trip_keeps_passwords(actors: Actors, pg: dict) -> None:
    with actors.client(actors.admin_key, **{"X-Tenant-ID": "team-b"}) as tenant_admin:
        # Acting in a tenant, an admin is not platform-wide: no secrets.
        error_of(
            tenant_admin.get(f"{CONNS}/export", params={"include_secrets": "true"}), 403, "PERMISSION_DENIED"
        )
    with actors.client(actors.admin_key) as admin:
        assert (
            admin.post(CONNS, json={"connection_id": "admin_rt", **pg, "tenant_id": "team-b"}).status_code
            == 201
        )
        exported = admin.get(f"{CONNS}/export", params={"format": "json", "include_secrets": "true"}).json()
        item = next(c for c in exported["connections"] if c["connection_id"] == "admin_rt")
        assert item["password"] == pg["password"]
        assert admin.delete(f"{CONNS}/admin_rt").status_code == 204
        assert admin.post(f"{CONNS}/import", json={"connections": [item]}).json()["created"] == ["admin_rt"]
    shown = harness.run_airflow(SESSION_ENV, "connections", "get", "admin_rt", "-o", "json").stdout
    assert pg["password"] in shown  # the restored row carries the password again


def test_hook_in_a_real_dag_run_uses_the_api_connection(actors: Actors, pg: dict) -> None:
    with actors.client(actors.alice_key) as alice:
        assert alice.post(CONNS, json={"connection_id": "dag_check_pg", **pg}).status_code == 201
    result = harness.run_airflow(
        SESSION_ENV, "dags", "test", "connection_check", "-c", json.dumps({"conn_id": "dag_check_pg"})
    )
    output = result.stdout + result.stderr
    assert "connection dag_check_pg (postgres)" in output and "True" in output
    assert "failed" not in output.lower().split("connection dag_check_pg")[-1][:200]
