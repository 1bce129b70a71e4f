"""Auth: tenant members, API keys, OAuth2 clients, tokens and codes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_tenant_members",
        sa.Column("tenant_id", sa.String(63), primary_key=True),
        sa.Column("username", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "platform_api_keys",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_platform_api_keys_tenant_id", "platform_api_keys", ["tenant_id"])
    op.create_table(
        "platform_oauth_clients",
        sa.Column("client_id", sa.String(48), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("redirect_uris", sa.JSON, nullable=False),
        sa.Column("grant_types", sa.JSON, nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_platform_oauth_clients_tenant_id", "platform_oauth_clients", ["tenant_id"])
    op.create_table(
        "platform_oauth_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("refresh_token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("client_id", sa.String(48), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_platform_oauth_tokens_client_id", "platform_oauth_tokens", ["client_id"])
    op.create_table(
        "platform_oauth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(48), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(16), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("platform_oauth_codes")
    op.drop_index("ix_platform_oauth_tokens_client_id", "platform_oauth_tokens")
    op.drop_table("platform_oauth_tokens")
    op.drop_index("ix_platform_oauth_clients_tenant_id", "platform_oauth_clients")
    op.drop_table("platform_oauth_clients")
    op.drop_index("ix_platform_api_keys_tenant_id", "platform_api_keys")
    op.drop_table("platform_api_keys")
    op.drop_table("platform_tenant_members")
