"""SQLAlchemy Core tables of the platform.

Core, not the ORM: the same statements run on SQLAlchemy 1.4 (Airflow 2.11) and 2.x (Airflow 3),
and the tables stay out of Airflow's own declarative base. Every table name starts with
``platform_``; the migrations in ``migrations/versions`` are the source of truth and
``tests/storage/test_migrations.py`` checks that they produce exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

tenants = sa.Table(
    "platform_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("resource_limits", sa.JSON, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("admin_users", sa.JSON, nullable=False),
    sa.Column("tenant_metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
