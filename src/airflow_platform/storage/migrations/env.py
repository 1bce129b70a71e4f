"""Alembic environment of the platform tables.

Runs on the connection the migrator hands over (``config.attributes["connection"]``), or on the
URL in the config. Our version table is ``platform_alembic_version``, never Airflow's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from airflow_platform.storage.migrator import VERSION_TABLE
from airflow_platform.storage.tables import metadata

config = context.config


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Airflow's own tables share the database: autogenerate must only see ours.
    if type_ == "table":
        return bool(name and name.startswith("platform_"))
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = sa.create_engine(str(config.get_main_option("sqlalchemy.url")), poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: sa.engine.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
