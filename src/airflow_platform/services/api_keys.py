"""Create, list, revoke and resolve API keys."""

from __future__ import annotations

import secrets as std_secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from airflow_platform.auth import credentials, scopes
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import PermissionDeniedError, ResourceNotFoundError, ValidationError
from airflow_platform.schemas.auth import ApiKey, ApiKeyCreate, ApiKeyCreated
from airflow_platform.services.ownership import owner_for_new
from airflow_platform.storage import db
from airflow_platform.storage.tables import api_keys

#: last_used_at is written at most this often per key, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: How long a process trusts a key it has already looked up (see ``ApiKeyService.resolve``).
RESOLVE_CACHE_SECONDS = 2.0
_RESOLVED: dict[str, tuple[KeyRecord, datetime | None, float]] = {}


def forget_key(key_id: str) -> None:
    """Drop a key from this process's cache (on revocation)."""
    for digest, (record, _, _) in list(_RESOLVED.items()):
        if record.key_id == key_id:
            _RESOLVED.pop(digest, None)


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    username: str
    tenant_id: str | None
    scopes: frozenset[str]


def _status(row: Any, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    expires = db.as_utc(row.expires_at)
    if expires is not None and expires <= now:
        return "expired"
    return "active"


def _to_model(row: Any) -> ApiKey:
    now = db.utcnow()
    return ApiKey(
        id=row.key_id,
        name=row.name,
        prefix=row.prefix,
        user=row.username,
        tenant_id=row.tenant_id,
        scopes=list(row.scopes),
        created_by=row.created_by,
        created_at=db.as_utc(row.created_at),
        expires_at=db.as_utc(row.expires_at),
        last_used_at=db.as_utc(row.last_used_at),
        revoked_at=db.as_utc(row.revoked_at),
        status=_status(row, now),
    )


class ApiKeyService:
    def __init__(self, tenants: Any) -> None:
        self.tenants = tenants

    # --- the admin surface -------------------------------------------------------------------

    def create(self, principal: Principal, body: ApiKeyCreate, *, user_exists: Any) -> ApiKeyCreated:
        username = body.user or principal.username
        if username != principal.username and not principal.is_platform_admin:
            raise PermissionDeniedError("Only platform admins may create keys for other users.")
        if username != principal.username and not user_exists(username):
            raise ValidationError(f"No Airflow user named {username!r}.", details={"user": username})
        tenant_id = owner_for_new(principal, body.tenant_id, self.tenants.exists, "key")
        wanted = scopes.normalize(body.scopes)
        beyond = [s for s in wanted if not scopes.scope_allows(principal.scopes, s)]
        if beyond:
            raise PermissionDeniedError(
                f"A key cannot carry scopes its creator lacks: {', '.join(beyond)}.",
                details={"scopes": beyond},
            )
        return self.insert(
            name=body.name,
            username=username,
            tenant_id=tenant_id,
            scopes=wanted,
            expires_in_days=body.expires_in_days,
            created_by=principal.username,
        )

    def insert(
        self,
        *,
        name: str,
        username: str,
        tenant_id: str | None,
        scopes: list[str],
        expires_in_days: int | None,
        created_by: str,
    ) -> ApiKeyCreated:
        secret = credentials.mint(credentials.API_KEY_PREFIX)
        now = db.utcnow()
        row = {
            "key_id": f"key_{std_secrets.token_hex(8)}",
            "name": name,
            "prefix": credentials.visible_prefix(secret),
            "secret_hash": credentials.digest(secret),
            "username": username,
            "tenant_id": tenant_id,
            "scopes": scopes,
            "created_by": created_by,
            "created_at": now,
            "expires_at": now + timedelta(days=expires_in_days) if expires_in_days else None,
            "last_used_at": None,
            "revoked_at": None,
        }
        with db.transaction() as conn:
            conn.execute(api_keys.insert().values(**row))
        model = _to_model(db.RowView(row))
        return ApiKeyCreated(**model.model_dump(), key=secret)

    def _visible(self, principal: Principal) -> Any:
        """Which keys a principal may see: admins all (of its tenant), tenant admins the tenant's,
        everyone else their own."""
        clause: Any = sa.true()
        if principal.tenant_id is not None:
            clause = api_keys.c.tenant_id == principal.tenant_id
        if not principal.is_platform_admin and not self.tenants.is_tenant_admin(
            principal.tenant_id, principal.username
        ):
            clause = sa.and_(clause, api_keys.c.username == principal.username)
        return clause

    def list(self, principal: Principal, limit: int, offset: int) -> tuple[list[ApiKey], int]:
        where = self._visible(principal)
        with db.reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(api_keys).where(where)).scalar_one()
            rows = conn.execute(
                sa.select(api_keys).where(where).order_by(api_keys.c.created_at, api_keys.c.key_id)
                .limit(limit).offset(offset)
            ).all()  # fmt: skip
        return [_to_model(r) for r in rows], int(total)

    def get(self, principal: Principal, key_id: str) -> ApiKey:
        with db.reading() as conn:
            row = conn.execute(
                sa.select(api_keys).where(api_keys.c.key_id == key_id, self._visible(principal))
            ).first()
        if row is None:
            raise ResourceNotFoundError(f"API key {key_id!r} not found.", details={"id": key_id})
        return _to_model(row)

    def revoke(self, principal: Principal, key_id: str) -> ApiKey:
        self.get(principal, key_id)  # 404 when not visible
        forget_key(key_id)
        with db.transaction() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=db.utcnow())
            )
        return self.get(principal, key_id)

    # --- authentication --------------------------------------------------------------------------

    @staticmethod
    def resolve(secret: str) -> KeyRecord | None:
        """The active key behind a presented secret, or None. Touches last_used_at sparingly.

        Active keys are remembered for ``RESOLVE_CACHE_SECONDS`` so that a busy client costs one
        DB look-up per key per interval: a revocation takes effect at once in the process that
        revoked, and within that interval in every other server process.
        """
        if not credentials.well_formed(secret, credentials.API_KEY_PREFIX):
            return None
        hashed = credentials.digest(secret)
        cached = _RESOLVED.get(hashed)
        now_mono = time.monotonic()
        if cached is not None:
            record, expires_at, until = cached
            if now_mono < until and (expires_at is None or db.utcnow() < expires_at):
                return record
            _RESOLVED.pop(hashed, None)
        with db.reading() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.secret_hash == hashed)).first()
        if row is None or not credentials.same_digest(row.secret_hash, secret):
            return None
        now = db.utcnow()
        if _status(row, now) != "active":
            return None
        last = db.as_utc(row.last_used_at)
        if last is None or now - last > LAST_USED_RESOLUTION:
            with db.transaction() as conn:
                conn.execute(
                    api_keys.update().where(api_keys.c.key_id == row.key_id).values(last_used_at=now)
                )
        record = KeyRecord(
            key_id=row.key_id, username=row.username, tenant_id=row.tenant_id, scopes=frozenset(row.scopes)
        )
        if len(_RESOLVED) > 10_000:
            _RESOLVED.clear()
        _RESOLVED[hashed] = (record, db.as_utc(row.expires_at), now_mono + RESOLVE_CACHE_SECONDS)
        return record
