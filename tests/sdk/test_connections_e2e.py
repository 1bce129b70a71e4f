"""``client.connections`` against the real server: a tenant's connection round trip."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import pytest
import yaml

from airflow_platform import exceptions as exc
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.e2e.conftest import MADE_SECRETS, Actors

pytestmark = pytest.mark.e2e


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_round_trip(actors: Actors) -> None:
    conn_id = f"sdk_conn_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    MADE_SECRETS.append(password)
    port = closed_port()
    with PlatformClient(actors.base_url, api_key=actors.alice_key) as client:
        created = client.connections.create(
            connection_id=conn_id,
            connection_type="http",
            host="127.0.0.1",
            port=port,
            schema="http",
            login="svc",
            password=password,
            extra={"timeout": 2},
        )
        assert created.password == "***" and created.tenant_id == "team-a"
        got = client.connections.get(conn_id)
        assert got.password == "***" and got.port == port and got.login == "svc"
        assert password not in got.model_dump_json()

        updated = client.connections.update(conn_id, login="svc2", extra={"note": "x"})
        assert updated.login == "svc2" and updated.host == "127.0.0.1" and updated.password == "***"
        assert updated.extra.get("note") == "x"

        listed = client.connections.list(search=conn_id)
        assert [c.connection_id for c in listed] == [conn_id]

        result = client.connections.test(conn_id)
        assert result.status == "failed" and isinstance(result.message, str)
        assert isinstance(result.latency_ms, int)

        text = client.connections.export(format="yaml")
        assert password not in text
        exported = yaml.safe_load(text)["connections"]
        mine = [c for c in exported if c["connection_id"] == conn_id]
        assert mine and mine[0]["login"] == "svc2"
        as_json = json.loads(client.connections.export(format="json"))
        assert any(c["connection_id"] == conn_id for c in as_json["connections"])

        async def async_get() -> str:
            async with AsyncPlatformClient(actors.base_url, api_key=actors.alice_key) as aclient:
                return (await aclient.connections.get(conn_id)).connection_id

        assert asyncio.run(async_get()) == conn_id

        client.connections.delete(conn_id)
        with pytest.raises(exc.ResourceNotFoundError):
            client.connections.get(conn_id)

        dry = client.connections.import_(text, dry_run=True)
        assert dry.dry_run and conn_id in dry.created
        with pytest.raises(exc.ResourceNotFoundError):
            client.connections.get(conn_id)
