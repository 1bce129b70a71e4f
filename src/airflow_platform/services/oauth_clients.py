"""Register, list, revoke and look up OAuth2 clients.

The same walls as API keys: a client belongs to a tenant, and a principal outside it is answered as
if the client did not exist. The secret is minted here and only its SHA-256 is kept.
"""

from __future__ import annotations

import secrets as std_secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airflow_platform.auth import credentials, scopes
from airflow_platform.auth.principal import Principal
from airflow_platform.auth.scopes import scope_allows
from airflow_platform.exceptions import PermissionDeniedError, ResourceNotFoundError, ValidationError
from airflow_platform.schemas.oauth import OAuthClient, OAuthClientCreate, OAuthClientCreated
from airflow_platform.services.ownership import owner_for_new
from airflow_platform.storage import db
from airflow_platform.storage.tables import oauth_clients, oauth_tokens

CLIENT_ID_PREFIX = "cli_"
MAX_CLIENT_ID_LENGTH = 48  # platform_oauth_clients.client_id


@dataclass(frozen=True)
class ClientRecord:
    """An active client, as the authorization server needs it (never shown on the wire)."""

    client_id: str
    name: str
    secret_hash: str
    username: str
    tenant_id: str | None
    redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    scopes: frozenset[str]


def _to_model(row: Any) -> OAuthClient:
    return OAuthClient(
        client_id=row.client_id,
        name=row.name,
        user=row.username,
        tenant_id=row.tenant_id,
        grant_types=list(row.grant_types),
        redirect_uris=list(row.redirect_uris),
        scopes=list(row.scopes),
        created_by=row.created_by,
        created_at=db.as_utc(row.created_at),
        revoked_at=db.as_utc(row.revoked_at),
        status="revoked" if row.revoked_at is not None else "active",
    )


class OAuthClientService:
    def __init__(self, tenants: Any, user_exists: Callable[[str], bool]) -> None:
        # Both injected: the tenant service answers membership questions, ``user_exists`` asks
        # Airflow's user table, so this service imports nothing of Airflow's.
        self.tenants = tenants
        self.user_exists = user_exists

    # --- the admin surface -------------------------------------------------------------------

    def create(self, principal: Principal, body: OAuthClientCreate) -> OAuthClientCreated:
        username = body.user or principal.username
        if username != principal.username and not principal.is_platform_admin:
            raise PermissionDeniedError("Only platform admins may register clients acting as other users.")
        if username != principal.username and not self.user_exists(username):
            raise ValidationError(f"No Airflow user named {username!r}.", details={"user": username})
        granted = scopes.normalize(body.scopes)
        if not all(scope_allows(principal.scopes, s) for s in granted):
            # A narrowly scoped key must not mint a client (and so tokens) wider than itself.
            raise PermissionDeniedError(
                "A client's scopes cannot exceed those of the credential registering it.",
                details={"scopes": granted, "your_scopes": sorted(principal.scopes)},
            )
        secret = credentials.mint(credentials.OAUTH_CLIENT_SECRET_PREFIX)
        row = {
            "client_id": f"{CLIENT_ID_PREFIX}{std_secrets.token_hex(10)}",
            "secret_hash": credentials.digest(secret),
            "name": body.name,
            "username": username,
            "tenant_id": owner_for_new(principal, body.tenant_id, self.tenants.exists, "client"),
            "redirect_uris": body.redirect_uris,
            "grant_types": list(body.grant_types),
            "scopes": granted,
            "created_by": principal.username,
            "created_at": db.utcnow(),
            "revoked_at": None,
        }
        with db.transaction() as conn:
            conn.execute(oauth_clients.insert().values(**row))
        model = _to_model(db.RowView(row))
        return OAuthClientCreated(**model.model_dump(), client_secret=secret)

    def _visible(self, principal: Principal) -> Any:
        """Platform admins see all clients (of the tenant they act in), tenant admins the tenant's,
        everyone else the clients they registered or that act as them."""
        clause: Any = sa.true()
        if principal.tenant_id is not None:
            clause = oauth_clients.c.tenant_id == principal.tenant_id
        if not principal.is_platform_admin and not self.tenants.is_tenant_admin(
            principal.tenant_id, principal.username
        ):
            mine = sa.or_(
                oauth_clients.c.username == principal.username,
                oauth_clients.c.created_by == principal.username,
            )
            clause = sa.and_(clause, mine)
        return clause

    def list(self, principal: Principal, limit: int, offset: int) -> tuple[list[OAuthClient], int]:
        where = self._visible(principal)
        with db.reading() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(oauth_clients).where(where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(oauth_clients).where(where)
                .order_by(oauth_clients.c.created_at, oauth_clients.c.client_id)
                .limit(limit).offset(offset)
            ).all()  # fmt: skip
        return [_to_model(r) for r in rows], int(total)

    def get(self, principal: Principal, client_id: str) -> OAuthClient:
        with db.reading() as conn:
            row = conn.execute(
                sa.select(oauth_clients).where(
                    oauth_clients.c.client_id == client_id, self._visible(principal)
                )
            ).first()
        if row is None:
            raise ResourceNotFoundError(
                f"OAuth client {client_id!r} not found.", details={"client_id": client_id}
            )
        return _to_model(row)

    def revoke(self, principal: Principal, client_id: str) -> OAuthClient:
        """The client and every token it holds stop working at once; it stays listed as revoked."""
        self.get(principal, client_id)  # 404 when not visible
        now = db.utcnow()
        with db.transaction() as conn:
            conn.execute(
                oauth_clients.update()
                .where(oauth_clients.c.client_id == client_id, oauth_clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.client_id == client_id, oauth_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return self.get(principal, client_id)

    # --- the authorization server's view ------------------------------------------------------

    @staticmethod
    def find_active(client_id: str) -> ClientRecord | None:
        """The client behind a ``client_id``, or None when unknown or revoked."""
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            return None
        with db.reading() as conn:
            row = conn.execute(
                sa.select(oauth_clients).where(
                    oauth_clients.c.client_id == client_id, oauth_clients.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return ClientRecord(
            client_id=row.client_id,
            name=row.name,
            secret_hash=row.secret_hash,
            username=row.username,
            tenant_id=row.tenant_id,
            redirect_uris=tuple(row.redirect_uris),
            grant_types=frozenset(row.grant_types),
            scopes=frozenset(row.scopes),
        )
