"""Analytics queries: state, history and the result cache's index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_analytics_queries",
        sa.Column("query_id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("database", sa.String(250), nullable=False),
        sa.Column("query_text", sa.Text, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("row_limit", sa.Integer, nullable=False),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_returned", sa.BigInteger, nullable=True),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("execution_time_ms", sa.Float, nullable=True),
        sa.Column("columns", sa.JSON, nullable=True),
        sa.Column("schema_name", sa.String(250), nullable=True),
        sa.Column("tables_accessed", sa.JSON, nullable=False),
        sa.Column("bytes_scanned", sa.BigInteger, nullable=True),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=True),
        sa.Column("result_path", sa.String(1000), nullable=True),
        sa.Column("result_bytes", sa.BigInteger, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("runner", sa.String(300), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("tenant_id", "username", "submitted_at", "cache_key"):
        op.create_index(f"ix_platform_analytics_queries_{column}", "platform_analytics_queries", [column])


def downgrade() -> None:
    for column in ("cache_key", "submitted_at", "username", "tenant_id"):
        op.drop_index(f"ix_platform_analytics_queries_{column}", "platform_analytics_queries")
    op.drop_table("platform_analytics_queries")
