"""Airflow 3's route to our tables: ``airflow db migrate`` runs every provider's DB manager.

Airflow finds this class through ``db-managers`` in ``get_provider_info()``. Unlike the base
class, it never builds tables from the ORM metadata: the migrations are the one way the schema
moves, so a DB made by ``airflow db migrate`` and one made by ``airflow-platform db migrate`` are
the same.
"""

from __future__ import annotations

from typing import Any

from airflow_platform.compat import base_db_manager, metadata_engine
from airflow_platform.storage.migrator import MIGRATIONS_DIR, VERSION_TABLE, Migrator
from airflow_platform.storage.tables import metadata


class PlatformDBManager(base_db_manager()):  # type: ignore[misc]
    metadata = metadata
    version_table_name = VERSION_TABLE
    migration_dir = str(MIGRATIONS_DIR)
    alembic_file = str(MIGRATIONS_DIR / "alembic.ini")
    supports_table_dropping = True

    def _migrator(self) -> Migrator:
        return Migrator(metadata_engine())

    def initdb(self, use_migration_files: bool = False) -> None:
        self.upgradedb()

    def upgradedb(self, to_revision: str | None = None, *args: Any, **kwargs: Any) -> None:
        self.log.info("Migrating the Airflow Platform tables")
        self._migrator().upgrade(to_revision or "head")

    def downgrade(self, to_revision: str, *args: Any, **kwargs: Any) -> None:
        self._migrator().downgrade(to_revision)

    def drop_tables(self, connection: Any) -> None:
        Migrator.drop_all(connection)
