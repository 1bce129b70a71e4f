"""Applies the platform's Alembic migrations to a database.

Used by ``airflow-platform db migrate`` on both Airflow versions and by the Airflow 3 DB manager,
so there is one way the platform schema moves. Alembic is imported lazily: it is heavy, and the
plugin must stay cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "platform_alembic_version"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@cache
def _script_head() -> str:
    """The newest revision shipped in this package; fixed for the life of the process."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


class Migrator:
    """Upgrade, downgrade and inspect the platform schema on one engine."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def _config(self, connection: sa.engine.Connection | None = None) -> Config:
        from alembic.config import Config

        config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option(
            "sqlalchemy.url", self.engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        return _script_head()

    def revisions(self) -> list[str]:
        """All revisions, oldest first."""
        from alembic.script import ScriptDirectory

        walked = [r.revision for r in ScriptDirectory.from_config(self._config()).walk_revisions()]
        return list(reversed(walked))

    def current(self) -> str | None:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
            row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()  # noqa: S608
            return None if row is None else str(row[0])

    def status(self) -> SchemaStatus:
        return SchemaStatus(current=self.current(), head=self.head())

    def _run(self, command_name: str, revision: str, **kwargs: Any) -> None:
        from alembic import command

        with self.engine.begin() as conn:
            getattr(command, command_name)(self._config(conn), revision, **kwargs)

    def upgrade(self, revision: str = "head") -> None:
        self._run("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        self._run("downgrade", revision)

    @staticmethod
    def drop_all(connection: sa.engine.Connection) -> None:
        """Drop every platform table and the version table (``airflow db reset``)."""
        from airflow_platform.storage.tables import metadata

        metadata.drop_all(connection)
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
