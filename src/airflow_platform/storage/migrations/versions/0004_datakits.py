"""DataKits: the registry (kits and their immutable versions) and deployments with their history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_datakits",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("latest_version", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_platform_datakits_tenant_id", "platform_datakits", ["tenant_id"])
    op.create_table(
        "platform_datakit_versions",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "platform_deployments",
        sa.Column("deployment_id", sa.String(250), primary_key=True),
        sa.Column("datakit", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("namespace", sa.String(63), nullable=True),
        sa.Column("configuration", sa.JSON, nullable=False),
        sa.Column("schedule", sa.String(120), nullable=True),
        sa.Column("notifications", sa.JSON, nullable=False),
        sa.Column("runtime", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_platform_deployments_datakit", "platform_deployments", ["datakit"])
    op.create_index("ix_platform_deployments_tenant_id", "platform_deployments", ["tenant_id"])
    op.create_table(
        "platform_deployment_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.String(250), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_platform_deployment_events_deployment_id", "platform_deployment_events", ["deployment_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_platform_deployment_events_deployment_id", "platform_deployment_events")
    op.drop_table("platform_deployment_events")
    op.drop_index("ix_platform_deployments_tenant_id", "platform_deployments")
    op.drop_index("ix_platform_deployments_datakit", "platform_deployments")
    op.drop_table("platform_deployments")
    op.drop_table("platform_datakit_versions")
    op.drop_index("ix_platform_datakits_tenant_id", "platform_datakits")
    op.drop_table("platform_datakits")
