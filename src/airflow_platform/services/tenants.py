"""Tenants: the walls between teams, and who stands inside each."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import ConflictError, PermissionDeniedError, ResourceNotFoundError
from airflow_platform.schemas.tenants import Tenant, TenantCreate, TenantUpdate
from airflow_platform.storage import db
from airflow_platform.storage.tables import (
    api_keys,
    connection_owners,
    datakit_versions,
    datakits,
    deployments,
    oauth_clients,
    saved_queries,
    tenant_members,
    tenants,
    webhooks,
)

DEFAULT_TENANT = "default"

#: Tables of objects a tenant owns (each has a ``tenant_id`` column); DELETE is refused while any
#: of them holds a row of the tenant, unless forced.
OWNED_TABLES: list[sa.Table] = [
    api_keys, oauth_clients, connection_owners, datakits, deployments, saved_queries, webhooks,
]  # fmt: skip


_KIND = {"platform_connection_owners": "connections"}


def _to_model(row: Any) -> Tenant:
    return Tenant(
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        namespace=row.namespace,
        resource_limits=row.resource_limits,
        features=row.features,
        admin_users=row.admin_users,
        metadata=row.tenant_metadata,
        created_at=db.as_utc(row.created_at),
        updated_at=db.as_utc(row.updated_at),
    )


def _merge(current: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    if patch is None:
        return current
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class TenantService:
    def __init__(self, usernames_for_emails: Any = None) -> None:
        # Maps admin e-mails to Airflow usernames; injected so the service needs no Airflow import.
        self.usernames_for_emails = usernames_for_emails or (lambda emails: {e: e for e in emails})

    # --- queries used by auth ----------------------------------------------------------------

    def exists(self, tenant_id: str) -> bool:
        if tenant_id == DEFAULT_TENANT:
            self.ensure_default()
            return True
        with db.reading() as conn:
            return (
                conn.execute(sa.select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)).first()
                is not None
            )

    def memberships(self, username: str) -> dict[str, str]:
        with db.reading() as conn:
            rows = conn.execute(
                sa.select(tenant_members.c.tenant_id, tenant_members.c.role).where(
                    tenant_members.c.username == username
                )
            ).all()
        return {r.tenant_id: r.role for r in rows}

    def is_tenant_admin(self, tenant_id: str | None, username: str) -> bool:
        return tenant_id is not None and self.memberships(username).get(tenant_id) == "admin"

    def feature_enabled(self, tenant_id: str, feature: str) -> bool:
        """Features are on unless the tenant turned them off (``"datakits": false``)."""
        with db.reading() as conn:
            features = conn.execute(
                sa.select(tenants.c.features).where(tenants.c.tenant_id == tenant_id)
            ).scalar()
        return bool((features or {}).get(feature, True))

    def ensure_default(self) -> None:
        with db.reading() as conn:
            found = conn.execute(
                sa.select(tenants.c.tenant_id).where(tenants.c.tenant_id == DEFAULT_TENANT)
            ).first()
        if found is None:
            now = db.utcnow()
            try:
                with db.transaction() as conn:
                    conn.execute(
                        tenants.insert().values(
                            tenant_id=DEFAULT_TENANT, display_name="Default", namespace=DEFAULT_TENANT,
                            resource_limits={}, features={}, admin_users=[], tenant_metadata={},
                            created_at=now, updated_at=now,
                        )
                    )  # fmt: skip
            except sa.exc.IntegrityError:
                pass  # another process made it first

    # --- the admin surface -------------------------------------------------------------------

    def _require_admin(self, principal: Principal) -> None:
        if not principal.is_platform_admin:
            raise PermissionDeniedError("Only platform admins may create, change or delete tenants.")

    def _visible(self, principal: Principal) -> Any:
        return sa.true() if principal.tenant_id is None else tenants.c.tenant_id == principal.tenant_id

    def create(self, principal: Principal, body: TenantCreate) -> Tenant:
        self._require_admin(principal)
        now = db.utcnow()
        values = {
            "tenant_id": body.tenant_id,
            "display_name": body.display_name,
            "namespace": body.namespace or body.tenant_id,
            "resource_limits": body.resource_limits,
            "features": body.features,
            "admin_users": body.admin_users,
            "tenant_metadata": body.metadata,
            "created_at": now,
            "updated_at": now,
        }
        # Accounts are made before our transaction: on SQLite a second writer would wait on it.
        admins = self._admin_usernames(body.admin_users)
        try:
            with db.transaction() as conn:
                conn.execute(tenants.insert().values(**values))
                self._set_admins(conn, body.tenant_id, admins)
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"Tenant {body.tenant_id!r} already exists.", details={"tenant_id": body.tenant_id}
            ) from None
        return self.get(principal, body.tenant_id)

    def _admin_usernames(self, emails: list[str]) -> list[str]:
        return list(dict.fromkeys(self.usernames_for_emails(emails).values())) if emails else []

    def _set_admins(self, conn: sa.engine.Connection, tenant_id: str, usernames: list[str]) -> None:
        conn.execute(
            tenant_members.delete().where(
                tenant_members.c.tenant_id == tenant_id, tenant_members.c.role == "admin"
            )
        )
        now = db.utcnow()
        for username in usernames:
            conn.execute(tenant_members.delete().where(
                tenant_members.c.tenant_id == tenant_id, tenant_members.c.username == username
            ))  # fmt: skip
            conn.execute(
                tenant_members.insert().values(
                    tenant_id=tenant_id, username=username, role="admin", created_at=now
                )
            )

    def get(self, principal: Principal, tenant_id: str) -> Tenant:
        if tenant_id == DEFAULT_TENANT:
            self.ensure_default()
        with db.reading() as conn:
            row = conn.execute(
                sa.select(tenants).where(tenants.c.tenant_id == tenant_id, self._visible(principal))
            ).first()
        if row is None:
            raise ResourceNotFoundError(f"Tenant {tenant_id!r} not found.", details={"tenant_id": tenant_id})
        return _to_model(row)

    def list(self, principal: Principal, limit: int, offset: int) -> tuple[list[Tenant], int]:
        self.ensure_default()
        where = self._visible(principal)
        with db.reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(tenants).where(where)).scalar_one()
            rows = conn.execute(
                sa.select(tenants).where(where).order_by(tenants.c.tenant_id).limit(limit).offset(offset)
            ).all()
        return [_to_model(r) for r in rows], int(total)

    def update(self, principal: Principal, tenant_id: str, body: TenantUpdate) -> Tenant:
        current = self.get(principal, tenant_id)  # 404 first: another tenant's existence is not told
        self._require_admin(principal)
        values: dict[str, Any] = {"updated_at": db.utcnow()}
        if body.display_name is not None:
            values["display_name"] = body.display_name
        if body.namespace is not None:
            values["namespace"] = body.namespace
        values["resource_limits"] = _merge(current.resource_limits, body.resource_limits)
        values["features"] = _merge(current.features, body.features)
        values["tenant_metadata"] = _merge(current.metadata, body.metadata)
        admins = self._admin_usernames(body.admin_users) if body.admin_users is not None else None
        with db.transaction() as conn:
            if admins is not None:
                values["admin_users"] = body.admin_users
                self._set_admins(conn, tenant_id, admins)
            conn.execute(tenants.update().where(tenants.c.tenant_id == tenant_id).values(**values))
        return self.get(principal, tenant_id)

    def owned_objects(self, tenant_id: str) -> dict[str, int]:
        counts = {}
        with db.reading() as conn:
            for table in OWNED_TABLES:
                n = conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
                ).scalar_one()
                if n:
                    counts[_KIND.get(table.name, table.name.removeprefix("platform_"))] = int(n)
        return counts

    def delete(self, principal: Principal, tenant_id: str, force: bool) -> None:
        self.get(principal, tenant_id)
        self._require_admin(principal)
        if tenant_id == DEFAULT_TENANT:
            raise ConflictError("The default tenant cannot be deleted.")
        owned = self.owned_objects(tenant_id)
        if owned and not force:
            summary = ", ".join(f"{n} {kind}" for kind, n in owned.items())
            raise ConflictError(
                f"Tenant {tenant_id!r} still owns {summary}; delete them first or pass ?force=true.",
                details={"owned": owned},
            )
        with db.transaction() as conn:
            # The tenant's Airflow connections themselves, not only our record of their owner.
            owned_conns = sa.select(connection_owners.c.conn_id).where(
                connection_owners.c.tenant_id == tenant_id
            )
            conn.execute(
                sa.table("connection", sa.column("conn_id"))
                .delete()
                .where(sa.column("conn_id").in_(owned_conns))
            )
            # Their deployments' spec files and kits' manifests go with them (DAGs vanish at next parse).
            gone_specs = [r.deployment_id for r in conn.execute(
                sa.select(deployments.c.deployment_id).where(deployments.c.tenant_id == tenant_id)
            )]  # fmt: skip
            kit_names = sa.select(datakits.c.name).where(datakits.c.tenant_id == tenant_id)
            gone_versions = [(r.name, r.version) for r in conn.execute(
                sa.select(datakit_versions.c.name, datakit_versions.c.version).where(
                    datakit_versions.c.name.in_(kit_names)
                )
            )]  # fmt: skip
            conn.execute(datakit_versions.delete().where(datakit_versions.c.name.in_(kit_names)))
            # Their saved queries' export specs too (the export DAGs vanish at the next parse).
            gone_exports = [r.saved_query_id for r in conn.execute(
                sa.select(saved_queries.c.saved_query_id).where(
                    saved_queries.c.tenant_id == tenant_id, saved_queries.c.schedule.is_not(None)
                )
            )]  # fmt: skip
            # Their webhooks' deliveries and attempts (the webhooks go with the owned tables below).
            from airflow_platform.storage.webhooks import delete_tenant_webhooks

            delete_tenant_webhooks(conn, tenant_id)
            for table in OWNED_TABLES:
                conn.execute(table.delete().where(table.c.tenant_id == tenant_id))
            conn.execute(tenant_members.delete().where(tenant_members.c.tenant_id == tenant_id))
            conn.execute(tenants.delete().where(tenants.c.tenant_id == tenant_id))
        from airflow_platform.datakits import files

        for dag_id in gone_specs:
            files.delete_spec(dag_id)
        for name, version in gone_versions:
            files.delete_manifest(name, version)
        from airflow_platform.exports import specs
        from airflow_platform.schemas.saved_queries import dag_id_for

        for saved_query_id in gone_exports:
            specs.delete_spec(dag_id_for(saved_query_id))
