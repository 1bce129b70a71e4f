"""Rows of ``platform_analytics_queries``: a query's state, history and cache index.

Every server process reads and writes queries through here, which is how a status, a cancel or a
cached result reaches a query whichever process runs it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from airflow_platform.storage import db
from airflow_platform.storage.tables import analytics_queries as q

ACTIVE = ("queued", "running")


class QueryRepository:
    def insert(self, values: dict[str, Any]) -> None:
        with db.transaction() as conn:
            conn.execute(q.insert().values(**values))

    def insert_many(self, rows: builtins.list[dict[str, Any]]) -> None:
        """Several rows in one transaction; a row already there is skipped (a retry after a failure
        may find part of its batch written)."""
        if not rows:
            return
        with db.transaction() as conn:
            present = {
                r.query_id
                for r in conn.execute(
                    sa.select(q.c.query_id).where(q.c.query_id.in_([row["query_id"] for row in rows]))
                )
            }
            fresh = [_complete(row) for row in rows if row["query_id"] not in present]
            if fresh:
                conn.execute(q.insert(), fresh)

    def update(self, query_id: str, values: dict[str, Any], *, only_active: bool = False) -> bool:
        """Change a query; with `only_active`, only while it is queued or running (a final state is final)."""
        statement = q.update().where(q.c.query_id == query_id)
        if only_active:
            statement = statement.where(q.c.status.in_(ACTIVE))
        with db.transaction() as conn:
            return bool(conn.execute(statement.values(**values)).rowcount)

    def get(self, query_id: str) -> Any | None:
        with db.reading() as conn:
            return conn.execute(sa.select(q).where(q.c.query_id == query_id)).first()

    def list(
        self,
        *,
        username: str | None,
        tenant_id: str | None,
        all_tenants: bool,
        status: str | None,
        database: str | None,
        limit: int,
        offset: int,
    ) -> tuple[builtins.list[Any], int]:
        where = []
        if username is not None:
            where.append(q.c.username == username)
        if not all_tenants:
            where.append(q.c.tenant_id.is_(None) if tenant_id is None else q.c.tenant_id == tenant_id)
        if status is not None:
            where.append(q.c.status == status)
        if database is not None:
            where.append(q.c.database == database)
        columns = [c for c in q.c if c.name not in ("parameters", "columns")]
        with db.reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(q).where(*where)).scalar()
            rows = conn.execute(
                sa.select(*columns)
                .where(*where)
                .order_by(q.c.submitted_at.desc(), q.c.query_id)
                .limit(limit)
                .offset(offset)
            ).all()
        return list(rows), int(total or 0)

    def find_cached(self, cache_key: str, since: datetime) -> Any | None:
        """The newest completed result for this key that is young enough to reuse."""
        with db.reading() as conn:
            return conn.execute(
                sa.select(q)
                .where(
                    q.c.cache_key == cache_key,
                    q.c.status == "completed",
                    q.c.finished_at >= since,
                    q.c.result_path.is_not(None),
                )
                .order_by(q.c.finished_at.desc())
                .limit(1)
            ).first()

    def request_cancel(self, query_id: str) -> bool:
        return self.update(query_id, {"cancel_requested": True}, only_active=True)

    def cancel_requested(self, query_ids: Iterable[str]) -> set[str]:
        ids = list(query_ids)
        if not ids:
            return set()
        with db.reading() as conn:
            rows = conn.execute(
                sa.select(q.c.query_id).where(q.c.query_id.in_(ids), q.c.cancel_requested.is_(True))
            ).all()
        return {r.query_id for r in rows}

    def heartbeat(self, query_ids: Iterable[str], at: datetime) -> None:
        ids = list(query_ids)
        if ids:
            with db.transaction() as conn:
                conn.execute(
                    q.update().where(q.c.query_id.in_(ids), q.c.status.in_(ACTIVE)).values(heartbeat_at=at)
                )

    def expired_results(self, before: datetime, limit: int = 500) -> builtins.list[Any]:
        with db.reading() as conn:
            return list(
                conn.execute(
                    sa.select(q.c.query_id, q.c.result_path)
                    .where(q.c.finished_at < before, q.c.result_path.is_not(None))
                    .limit(limit)
                ).all()
            )

    def forget_results(self, query_ids: Iterable[str]) -> None:
        ids = list(query_ids)
        if ids:
            with db.transaction() as conn:
                conn.execute(q.update().where(q.c.query_id.in_(ids)).values(result_path=None))


_COLUMNS = tuple(c.name for c in q.c)


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    """Every column named (an executemany insert needs the same keys in each row)."""
    return {name: row.get(name) for name in _COLUMNS}
