"""Fixtures of the SDK's unit tests (respx) and of its end-to-end tests (the real server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx

from airflow_platform.sdk.core import AsyncCore, SyncCore
from tests.actors import Actors
from tests.conftest import SESSION_ENV
from tests.sdk.fakes import BASE, HEALTH, health_body

__all__ = ["Actors"]


@pytest.fixture(autouse=True)
def _no_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests decide every setting themselves."""
    for name in ("AIRFLOW_PLATFORM_URL", "AIRFLOW_PLATFORM_API_KEY", "AIRFLOW_PLATFORM_TENANT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits the clients asked for, instead of waiting them."""
    waited: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(SyncCore, "_sleep", staticmethod(waited.append))
    monkeypatch.setattr(AsyncCore, "_sleep", staticmethod(async_sleep))
    return waited


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def airflow3(api: respx.MockRouter) -> respx.MockRouter:
    api.get(HEALTH).respond(json=health_body("3.3.2"))
    return api


@pytest.fixture
def airflow2(api: respx.MockRouter) -> respx.MockRouter:
    api.get(HEALTH).respond(json=health_body("2.11.2"))
    return api


@pytest.fixture(scope="session")
def warehouse(airflow_server: object) -> Path:
    """The session's warehouse file, made (empty, with its schemas) when no test has made it yet:
    the server answers 503 for a warehouse that does not exist. Queries here read no tables."""
    import duckdb

    path = Path(
        SESSION_ENV.get("AIRFLOW__PLATFORM__WAREHOUSE_PATH")
        or os.environ["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]
    )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path)) as connection:
            for schema in ("bronze", "silver", "gold"):
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return path
