"""A server whose platform schema is behind answers 503 with what to run, not a missing table."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.exceptions import ServiceUnavailableError
from airflow_platform.services import schema_guard
from airflow_platform.storage.migrator import Migrator


@pytest.fixture
def behind_engine(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    engine = sa.create_engine(f"sqlite:///{tmp_path}/behind.db")
    monkeypatch.setattr(compat, "metadata_engine", lambda: engine)
    schema_guard.reset()
    yield engine
    schema_guard.reset()


def test_behind_schema_is_refused_with_instructions(behind_engine) -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        schema_guard.ensure_schema_current()
    assert "airflow-platform db migrate" in info.value.message
    assert info.value.details == {
        "schema_revision": None,
        "expected_revision": Migrator(behind_engine).head(),
    }


def test_migration_beside_a_live_server_is_picked_up(behind_engine, monkeypatch) -> None:
    monkeypatch.setattr(schema_guard, "_RECHECK_SECONDS", 0.0)
    with pytest.raises(ServiceUnavailableError):
        schema_guard.ensure_schema_current()
    Migrator(behind_engine).upgrade()
    schema_guard.ensure_schema_current()  # no error, no restart
