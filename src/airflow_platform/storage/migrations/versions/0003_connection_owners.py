"""Connection owners: the tenant of each Airflow connection made through the platform.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_connection_owners",
        sa.Column("conn_id", sa.String(250), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_platform_connection_owners_tenant_id", "platform_connection_owners", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_platform_connection_owners_tenant_id", "platform_connection_owners")
    op.drop_table("platform_connection_owners")
