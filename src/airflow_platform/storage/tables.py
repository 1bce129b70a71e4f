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

tenant_members = sa.Table(
    "platform_tenant_members",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("username", sa.String(256), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "platform_api_keys",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

oauth_clients = sa.Table(
    "platform_oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(48), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("grant_types", sa.JSON, nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

oauth_tokens = sa.Table(
    "platform_oauth_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("refresh_token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("client_id", sa.String(48), nullable=False, index=True),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("tenant_id", sa.String(63), nullable=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

oauth_codes = sa.Table(
    "platform_oauth_codes",
    metadata,
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

#: Which tenant owns which Airflow connection (the connections themselves stay in Airflow's own
#: ``connection`` table, so Airflow's UI and CLI see the same rows).
connection_owners = sa.Table(
    "platform_connection_owners",
    metadata,
    sa.Column("conn_id", sa.String(250), primary_key=True),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

datakits = sa.Table(
    "platform_datakits",
    metadata,
    # The kit's name is its id: one registry-wide namespace, like an image repository.
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("latest_version", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

datakit_versions = sa.Table(
    "platform_datakit_versions",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("manifest", sa.JSON, nullable=False),
    # SHA-256 of the canonical manifest: the same content again is idempotent, other content a conflict.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

deployments = sa.Table(
    "platform_deployments",
    metadata,
    # The deployment's id is its DAG id: datakit__<name>__<environment>.
    sa.Column("deployment_id", sa.String(250), primary_key=True),
    sa.Column("datakit", sa.String(63), nullable=False, index=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(63), nullable=False),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("namespace", sa.String(63), nullable=True),
    sa.Column("configuration", sa.JSON, nullable=False),
    sa.Column("schedule", sa.String(120), nullable=True),
    sa.Column("notifications", sa.JSON, nullable=False),
    sa.Column("runtime", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

deployment_events = sa.Table(
    "platform_deployment_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment_id", sa.String(250), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),  # deploy, redeploy, rollback, undeploy
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

#: Analytics queries: state (every server process reads and cancels through it), history, and the
#: result cache's index. The rows live in the results store (``analytics.results``), not here.
analytics_queries = sa.Table(
    "platform_analytics_queries",
    metadata,
    sa.Column("query_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("username", sa.String(256), nullable=False, index=True),
    sa.Column("database", sa.String(250), nullable=False),
    sa.Column("query_text", sa.Text, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("row_limit", sa.Integer, nullable=False),
    sa.Column("timeout_seconds", sa.Float, nullable=False),
    # queued, running, completed, failed, cancelled
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, index=True),
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
    # SHA-256 of database, data version, normalised SQL, parameters and limit; null: not cacheable.
    sa.Column("cache_key", sa.String(64), nullable=True, index=True),
    sa.Column("result_path", sa.String(1000), nullable=True),
    sa.Column("result_bytes", sa.BigInteger, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    # host:pid of the process running the query, and when it last said it still does.
    sa.Column("runner", sa.String(300), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
)

#: Saved queries: SQL with declared parameters, owned by a tenant; a schedule makes an export DAG
#: (its spec file is written beside the DataKit deployment specs, ``exports.specs``).
saved_queries = sa.Table(
    "platform_saved_queries",
    metadata,
    sa.Column("saved_query_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    # The name's slug: unique per tenant, and what the export files are named after.
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

#: Webhooks: configuration (secrets and header values Fernet-encrypted, like Airflow's connections).
webhooks = sa.Table(
    "platform_webhooks",
    metadata,
    sa.Column("webhook_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(63), nullable=True, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("filters", sa.JSON, nullable=False),
    # Names in clear (the API shows them, values masked); the name->value map encrypted.
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

#: The outbox: one row per (webhook, event). Its id is the ``webhook-id`` header of every attempt.
webhook_deliveries = sa.Table(
    "platform_webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "webhook_id",
        sa.String(40),
        sa.ForeignKey(
            "platform_webhooks.webhook_id", ondelete="CASCADE", name="fk_platform_webhook_deliveries_webhook"
        ),
        nullable=False,
    ),
    sa.Column("event", sa.String(32), nullable=False),
    # What makes an event itself (e.g. task.failure:<dag>:<run>:<task>:<map>:<try>): rescans are harmless.
    sa.Column("event_key", sa.String(1000), nullable=False),
    sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, succeeded, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    # Attempts made before the current budget (a redelivery renews the budget without forgetting).
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
    sa.Index("ix_platform_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_platform_webhook_deliveries_webhook", "webhook_id", "created_at"),
)

webhook_attempts = sa.Table(
    "platform_webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.String(40),
        sa.ForeignKey(
            "platform_webhook_deliveries.id", ondelete="CASCADE", name="fk_platform_webhook_attempts_delivery"
        ),
        nullable=False,
        index=True,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=True),
)

#: How far the collector has read Airflow's tables (one row per source).
webhook_cursors = sa.Table(
    "platform_webhook_cursors",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("position", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
