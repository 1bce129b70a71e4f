"""Saved queries (SQL with declared parameters; a schedule makes an export DAG).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_saved_queries",
        sa.Column("saved_query_id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("query_text", sa.Text, nullable=False),
        sa.Column("database", sa.String(250), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("schedule", sa.String(120), nullable=True),
        sa.Column("output_format", sa.String(16), nullable=True),
        sa.Column("destination", sa.String(1000), nullable=True),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_platform_saved_queries_tenant_name"),
    )
    op.create_index("ix_platform_saved_queries_tenant_id", "platform_saved_queries", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_platform_saved_queries_tenant_id", "platform_saved_queries")
    op.drop_table("platform_saved_queries")
