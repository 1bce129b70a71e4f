"""Upgrade and downgrade of the platform tables, on SQLite and PostgreSQL.

The migrations must build exactly the tables of ``storage.tables`` (checked with Alembic's own
comparison), leave Airflow's tables alone, and go down to nothing and back up again.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from airflow_platform.storage.migrator import VERSION_TABLE, Migrator
from airflow_platform.storage.tables import metadata


def _platform_tables(engine: sa.engine.Engine) -> set[str]:
    return {t for t in sa.inspect(engine).get_table_names() if t.startswith("platform_")}


def _diff(engine: sa.engine.Engine) -> list:  # type: ignore[type-arg]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    type_ != "table" or name in metadata.tables
                )
            },
        )
        return compare_metadata(ctx, metadata)


def _round_trip(engine: sa.engine.Engine) -> None:
    with engine.begin() as conn:  # a foreign table, standing in for Airflow's own
        conn.execute(sa.text("CREATE TABLE dag_stand_in (id INTEGER PRIMARY KEY)"))
    migrator = Migrator(engine)
    assert migrator.current() is None
    assert not migrator.status().up_to_date

    migrator.upgrade()
    assert migrator.current() == migrator.head()
    assert _platform_tables(engine) == set(metadata.tables) | {VERSION_TABLE}
    assert _diff(engine) == []

    migrator.upgrade()  # idempotent
    assert migrator.current() == migrator.head()

    revisions = migrator.revisions()
    for older in reversed(revisions[:-1]):  # step down one revision at a time
        migrator.downgrade(older)
        assert migrator.current() == older
    migrator.downgrade("base")
    assert migrator.current() is None
    assert _platform_tables(engine) <= {VERSION_TABLE}
    assert "dag_stand_in" in sa.inspect(engine).get_table_names()

    migrator.upgrade()
    assert _diff(engine) == []


def test_round_trip_on_sqlite(tmp_path) -> None:
    _round_trip(sa.create_engine(f"sqlite:///{tmp_path}/m.db"))


@pytest.mark.postgres
def test_round_trip_on_postgres(postgres_database: str) -> None:
    engine = sa.create_engine(postgres_database.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        _round_trip(engine)
    finally:
        engine.dispose()


def test_session_db_was_migrated_by_airflow_tooling(airflow_home) -> None:
    from airflow_platform.compat import metadata_engine

    status = Migrator(metadata_engine()).status()
    assert status.up_to_date, status
