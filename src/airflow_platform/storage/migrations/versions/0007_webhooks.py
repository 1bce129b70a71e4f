"""Webhooks: configuration, the delivery outbox, attempts, and the collector's cursor.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_webhooks",
        sa.Column("webhook_id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("header_names", sa.JSON, nullable=False),
        sa.Column("headers_encrypted", sa.Text, nullable=True),
        sa.Column("retry_policy", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text, nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_platform_webhooks_tenant_id", "platform_webhooks", ["tenant_id"])
    op.create_table(
        "platform_webhook_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "webhook_id",
            sa.String(40),
            sa.ForeignKey(
                "platform_webhooks.webhook_id",
                ondelete="CASCADE",
                name="fk_platform_webhook_deliveries_webhook",
            ),
            nullable=False,
        ),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(1000), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("attempt_base", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("webhook_id", "event_key", name="uq_platform_webhook_deliveries_event"),
    )
    op.create_index(
        "ix_platform_webhook_deliveries_due", "platform_webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_platform_webhook_deliveries_webhook", "platform_webhook_deliveries", ["webhook_id", "created_at"]
    )
    op.create_table(
        "platform_webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(40),
            sa.ForeignKey(
                "platform_webhook_deliveries.id",
                ondelete="CASCADE",
                name="fk_platform_webhook_attempts_delivery",
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=True),
    )
    op.create_index("ix_platform_webhook_attempts_delivery_id", "platform_webhook_attempts", ["delivery_id"])
    op.create_table(
        "platform_webhook_cursors",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("platform_webhook_cursors")
    op.drop_index("ix_platform_webhook_attempts_delivery_id", "platform_webhook_attempts")
    op.drop_table("platform_webhook_attempts")
    op.drop_index("ix_platform_webhook_deliveries_webhook", "platform_webhook_deliveries")
    op.drop_index("ix_platform_webhook_deliveries_due", "platform_webhook_deliveries")
    op.drop_table("platform_webhook_deliveries")
    op.drop_index("ix_platform_webhooks_tenant_id", "platform_webhooks")
    op.drop_table("platform_webhooks")
