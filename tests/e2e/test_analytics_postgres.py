"""Analytics queries on a PostgreSQL connection, over HTTP, against a real PostgreSQL server.

The guard checks PostgreSQL SQL; the engine runs each query in a READ ONLY transaction with a
statement_timeout, so even a function the guard cannot see into (one that INSERTs) cannot write.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests import harness
from tests.analytics.attack_corpus import ATTACKS
from tests.e2e.analytics_support import QUERY, error_of, fresh_key, run, wait_final, wait_status
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PG_LONG = "SELECT count(*) AS n FROM generate_series(1, 100000000000) AS t(x)"


@pytest.fixture(scope="module")
def pg_database(postgres_url: str) -> Iterator[dict[str, str]]:
    """A fresh database with a table, a sequence, a function that writes, and a role that may read."""
    import psycopg2

    with harness.fresh_postgres_database(postgres_url) as url:
        role, password = f"analytics_{secrets.token_hex(4)}", f"pw-{secrets.token_urlsafe(16)}"
        MADE_SECRETS.append(password)
        admin = psycopg2.connect(url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                """
                CREATE TABLE sales (id integer PRIMARY KEY, region text, amount numeric(10, 2), sold_on date);
                INSERT INTO sales SELECT g, (ARRAY['EMEA', 'NA'])[1 + g % 2], g * 1.25, DATE '2024-01-01' + g
                    FROM generate_series(1, 100) AS g;
                CREATE TABLE audit (note text);
                CREATE FUNCTION sneaky_write() RETURNS integer LANGUAGE sql AS
                    $$ INSERT INTO audit VALUES ('written'); SELECT 1 $$;
                """
            )
            cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
            cur.execute(f"GRANT SELECT, INSERT ON sales, audit TO {role}")  # INSERT: only read-only stops it
            cur.execute(f"GRANT EXECUTE ON FUNCTION sneaky_write() TO {role}")
        parts = urlsplit(url)
        yield {
            "url": url,
            "host": str(parts.hostname),
            "port": str(parts.port),
            "schema": parts.path.lstrip("/"),
            "login": role,
            "password": password,
        }
        with admin.cursor() as cur:
            cur.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}")
        admin.close()
    server = psycopg2.connect(postgres_url)
    server.autocommit = True
    with server.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {role}")
    server.close()


@pytest.fixture(scope="module")
def conn_id(actors: Actors, pg_database: dict[str, str]) -> Iterator[str]:
    name = f"pg_{uuid.uuid4().hex[:8]}"
    with actors.client(actors.alice_key) as alice:
        created = alice.post(
            "/api/v1/platform/connections",
            json={
                "connection_id": name, "connection_type": "postgres", "host": pg_database["host"],
                "port": int(pg_database["port"]), "schema": pg_database["schema"],
                "login": pg_database["login"], "password": pg_database["password"],
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        yield name
        alice.delete(f"/api/v1/platform/connections/{name}")


@pytest.fixture(scope="module")
def alice(actors: Actors) -> Iterator[httpx.Client]:
    with actors.client(fresh_key(actors, actors.alice_key, "analytics pg alice")) as c:
        yield c


def audit_rows(pg_database: dict[str, str]) -> int:
    import psycopg2

    with psycopg2.connect(pg_database["url"]) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit")
        return int(cur.fetchone()[0])


def test_typed_parameters_on_postgres(alice: httpx.Client, conn_id: str) -> None:
    doc = run(
        alice,
        "SELECT region, count(*) AS n, sum(amount) AS total FROM sales "
        "WHERE sold_on >= :since AND region LIKE 'E%' GROUP BY region",
        database=conn_id,
        parameters={"since": {"type": "date", "value": "2024-02-01"}},
    )
    assert doc["status"] == "completed" and doc["metadata"]["database"] == conn_id
    assert doc["data"][0]["region"] == "EMEA" and doc["data"][0]["n"] > 0
    assert {c["name"]: c["type"] for c in doc["columns"]} == {
        "region": "text",
        "n": "bigint",
        "total": "numeric",
    }
    assert doc["metadata"]["cache_hit"] is False and doc["metadata"]["bytes_scanned"] is None
    again = run(alice, "SELECT count(*) AS n FROM sales WHERE region = :r", database=conn_id,
                parameters={"r": "NA' OR '1'='1"})  # fmt: skip
    assert again["data"] == [{"n": 0}]


def test_nothing_writes_even_through_a_function_the_guard_cannot_see_into(
    alice: httpx.Client, conn_id: str, pg_database: dict[str, str]
) -> None:
    error = error_of(
        alice.post(QUERY, json={"query": "SELECT sneaky_write()", "database": conn_id}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"]["reason"] == "read_only", error
    refused = error_of(
        alice.post(QUERY, json={"query": "INSERT INTO audit VALUES ('x')", "database": conn_id}), 400,
        "VALIDATION_ERROR",
    )  # fmt: skip
    assert refused["details"]["reason"] == "statement"
    assert audit_rows(pg_database) == 0


def test_timeout_and_cancel_stop_the_postgres_query(alice: httpx.Client, conn_id: str) -> None:
    error = error_of(
        alice.post(QUERY, json={"query": PG_LONG, "database": conn_id, "timeout_seconds": 1}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"]["reason"] == "timeout"
    started = alice.post(
        QUERY, json={"query": PG_LONG, "database": conn_id, "async": True, "timeout_seconds": 120}
    )
    query_id = started.json()["query_id"]
    wait_status(alice, query_id, "running")
    assert alice.post(f"{QUERY}/{query_id}/cancel").json()["status"] == "cancelled"
    assert wait_final(alice, query_id)["status"] == "cancelled"


def test_another_tenant_cannot_use_the_connection(actors: Actors, conn_id: str) -> None:
    with actors.client(fresh_key(actors, actors.bob_key, "analytics pg bob")) as bob:
        error_of(bob.post(QUERY, json={"query": "SELECT 1", "database": conn_id}), 404, "RESOURCE_NOT_FOUND")


def test_the_postgres_attacks_of_the_corpus_are_refused(
    alice: httpx.Client, conn_id: str, pg_database: dict[str, str]
) -> None:
    attacks = [a for a in ATTACKS if a.dialect == "postgres"]
    assert attacks
    for attack in attacks:
        sql = (
            attack.sql.replace("__SECRET__", "/etc/passwd").replace("__OUT__", "/tmp").replace("__DB__", "x")
        )
        r = alice.post(QUERY, json={"query": sql, "database": conn_id, "timeout_seconds": 2})
        assert 400 <= r.status_code < 500, (attack.label, r.text[:300])
        assert "root:" not in r.text
    assert audit_rows(pg_database) == 0
