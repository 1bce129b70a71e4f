"""Airflow's own connection rows, read and written through Airflow's model.

Going through the model (not our own table) means the password and extra are encrypted with
Airflow's Fernet key exactly as Airflow does, and the Airflow UI, ``airflow connections`` and
hooks in tasks all see the same connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.storage import db
from airflow_platform.storage.tables import connection_owners

FIELDS = ("conn_type", "description", "host", "port", "schema", "login")


@dataclass
class StoredConnection:
    conn_id: str
    conn_type: str | None
    description: str | None
    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None = field(repr=False)
    extra: dict[str, Any]
    tenant_id: str | None


def _extra_of(model: Any) -> dict[str, Any]:
    raw = model.extra
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"__raw__": raw}
    return value if isinstance(value, dict) else {"__raw__": value}


def _stored(model: Any, tenant_id: str | None) -> StoredConnection:
    return StoredConnection(
        conn_id=model.conn_id,
        conn_type=model.conn_type,
        description=model.description,
        host=model.host,
        port=model.port,
        schema=model.schema,
        login=model.login,
        password=model.password,
        extra=_extra_of(model),
        tenant_id=tenant_id,
    )


class AirflowConnectionStore:
    """Connections with their owner tenant; ``tenant`` None means every tenant (platform admins)."""

    def _query(self, tenant: str | None, all_tenants: bool) -> Any:
        model = compat.connection_model()
        query = sa.select(model, connection_owners.c.tenant_id).outerjoin(
            connection_owners, connection_owners.c.conn_id == model.conn_id
        )
        if not all_tenants:
            query = query.where(connection_owners.c.tenant_id == tenant)
        return query

    def list(
        self, tenant: str | None, all_tenants: bool, limit: int, offset: int, conn_type: str | None = None,
        search: str | None = None,
    ) -> tuple[list[StoredConnection], int]:  # fmt: skip
        model = compat.connection_model()
        query = self._query(tenant, all_tenants)
        if conn_type:
            query = query.where(model.conn_type == conn_type)
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"%{escaped}%"
            query = query.where(
                sa.or_(model.conn_id.ilike(like, escape="\\"), model.description.ilike(like, escape="\\"))
            )
        with compat.orm_session() as session:
            total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
            rows = session.execute(query.order_by(model.conn_id).limit(limit).offset(offset)).all()
            return [_stored(m, t) for m, t in rows], int(total or 0)

    def get(self, conn_id: str, tenant: str | None, all_tenants: bool) -> StoredConnection | None:
        model = compat.connection_model()
        with compat.orm_session() as session:
            row = session.execute(self._query(tenant, all_tenants).where(model.conn_id == conn_id)).first()
            return None if row is None else _stored(row[0], row[1])

    def exists(self, conn_id: str) -> bool:
        model = compat.connection_model()
        with compat.orm_session() as session:
            return session.scalar(sa.select(model.conn_id).where(model.conn_id == conn_id)) is not None

    def create(self, values: StoredConnection, created_by: str) -> None:
        model = compat.connection_model()
        with compat.orm_session() as session:
            conn = model(
                conn_id=values.conn_id,
                conn_type=values.conn_type,
                description=values.description,
                host=values.host,
                port=values.port,
                schema=values.schema,
                login=values.login,
                password=values.password,
                extra=json.dumps(values.extra) if values.extra else None,
            )
            session.add(conn)
            session.flush()
            session.execute(
                connection_owners.insert().values(
                    conn_id=values.conn_id,
                    tenant_id=values.tenant_id,
                    created_by=created_by,
                    created_at=db.utcnow(),
                )
            )

    def update(self, conn_id: str, changes: dict[str, Any]) -> None:
        model = compat.connection_model()
        with compat.orm_session() as session:
            conn = session.scalar(sa.select(model).where(model.conn_id == conn_id))
            for name, value in changes.items():
                if name == "extra":
                    conn.extra = json.dumps(value) if value else None
                elif name == "password":
                    conn.password = value
                else:
                    setattr(conn, name, value)

    def delete(self, conn_id: str) -> None:
        model = compat.connection_model()
        with compat.orm_session() as session:
            session.execute(sa.delete(model).where(model.conn_id == conn_id))
            session.execute(connection_owners.delete().where(connection_owners.c.conn_id == conn_id))

    def airflow_connection(self, conn_id: str) -> Any:
        """A detached Airflow ``Connection`` object, for building its hook."""
        model = compat.connection_model()
        with compat.orm_session() as session:
            conn = session.scalar(sa.select(model).where(model.conn_id == conn_id))
            session.expunge(conn)
            return conn
