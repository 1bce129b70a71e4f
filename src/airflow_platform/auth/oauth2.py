"""The OAuth2 authorization server, on authlib's grants, and the resolution of its access tokens.

Grants: ``client_credentials`` (the token acts as the client's user and tenant), ``authorization_code``
with PKCE S256 required (plain and missing challenges are refused, redirect URIs match exactly) and
``refresh_token`` (rotating: the old refresh token, and the access token issued with it, die). RFC 7009
revocation. Clients are confidential: HTTP Basic or ``client_secret_post``.

Codes and tokens are minted by ``credentials`` (``afc_``, ``afo_``, ``afr_``) and stored only as
SHA-256 digests. A code or refresh token is *claimed* by a conditional update before anything is
issued for it, so two racing requests can never both spend it. One token row holds an access token
and (optionally) its refresh token: ``expires_at`` is the access token's end, and the refresh
token's end is ``issued_at`` plus the configured refresh lifetime, so no extra column is needed.

The server object holds no Flask app: it reads the current request through authlib's Flask
integration, so the same code serves Airflow 2's app and our standalone app on Airflow 3. One is built
lazily per app (``authorization_server``), never at import.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    TokenMixin,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
    grants,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from airflow_platform.auth import credentials, scopes
from airflow_platform.auth.scopes import grantable
from airflow_platform.services.oauth_clients import ClientRecord
from airflow_platform.storage import db
from airflow_platform.storage.tables import oauth_clients, oauth_codes, oauth_tokens

#: Client authentication accepted everywhere: all our clients are confidential.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
_EXTENSION_KEY = "airflow_platform.oauth2"
_SAFE_SCOPE = re.compile(r"^[A-Za-z0-9_.:*-]{1,64}$")


# --- what the rest of the platform sees --------------------------------------------------------


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token lets its bearer be: a user, in a tenant, with scopes."""

    username: str
    tenant_id: str | None
    scopes: frozenset[str]
    client_id: str


def resolve_access_token(token: str, *, now: datetime | None = None) -> AccessGrant | None:
    """The grant behind a presented ``afo_`` token, or None when malformed, unknown, expired or
    revoked, or when its client is revoked or gone. One primary-key look-up (joined to the client
    by its primary key): it runs on every request that carries a bearer token."""
    if not credentials.well_formed(token, credentials.OAUTH_TOKEN_PREFIX):
        return None
    query = (
        sa.select(
            oauth_tokens.c.username, oauth_tokens.c.tenant_id, oauth_tokens.c.scopes,
            oauth_tokens.c.client_id, oauth_tokens.c.expires_at,
        )
        .select_from(oauth_tokens.join(oauth_clients, oauth_clients.c.client_id == oauth_tokens.c.client_id))
        .where(
            oauth_tokens.c.token_hash == credentials.digest(token),
            oauth_tokens.c.revoked_at.is_(None),
            oauth_clients.c.revoked_at.is_(None),
        )
    )  # fmt: skip
    with db.reading() as conn:
        row = conn.execute(query).first()
    expires_at = None if row is None else db.as_utc(row.expires_at)
    if row is None or expires_at is None or expires_at <= (now or db.utcnow()):
        return None
    return AccessGrant(
        username=row.username, tenant_id=row.tenant_id, scopes=frozenset(row.scopes), client_id=row.client_id
    )


# --- records authlib works with ----------------------------------------------------------------


@dataclass(frozen=True)
class Lifetimes:
    """Seconds each credential lives; from ``[platform] oauth_*_expires_in``."""

    access: int
    refresh: int
    code: int

    @classmethod
    def from_config(cls) -> Lifetimes:
        from airflow_platform import config

        return cls(
            access=config.get_int("oauth_access_token_expires_in"),
            refresh=config.get_int("oauth_refresh_token_expires_in"),
            code=config.get_int("oauth_code_expires_in"),
        )


@dataclass(frozen=True)
class Subject:
    """Whom a code or token acts for (authlib's "user"): an Airflow user in a tenant."""

    username: str
    tenant_id: str | None


def consent_subject(username: str, acting_tenant: str | None, client: PlatformClient) -> Subject:
    """Whom an approved code acts for: the consenting user in the tenant they act in. A platform admin
    (acting in no tenant) approving a tenant's client is narrowed to that tenant rather than handing
    the client every tenant."""
    return Subject(username, acting_tenant or client.record.tenant_id)


class PlatformClient(ClientMixin):
    """authlib's view of a registered client."""

    def __init__(self, record: ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # redirect_uri is always required and matched exactly

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes this client may have (all of its own when none are asked); None when
        none of them is allowed, which authlib answers with invalid_scope."""
        if not scope:
            return str(list_to_scope(sorted(self.record.scopes)))
        granted = grantable(scope_to_list(scope), self.record.scopes)
        return str(list_to_scope(granted)) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return credentials.well_formed(
            client_secret, credentials.OAUTH_CLIENT_SECRET_PREFIX
        ) and credentials.same_digest(self.record.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types


@dataclass(frozen=True)
class CodeRecord(AuthorizationCodeMixin):
    code_hash: str
    client_id: str
    username: str
    tenant_id: str | None
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    used_at: datetime | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(frozen=True)
class TokenRecord(TokenMixin):
    token_hash: str
    client_id: str
    username: str
    tenant_id: str | None
    scopes: tuple[str, ...]

    def check_client(self, client: PlatformClient) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return " ".join(self.scopes)


# --- storage -------------------------------------------------------------------------------------


class GrantStore:
    """Codes and tokens in the metadata DB. Lifetimes and the clock are injected for tests."""

    def __init__(self, lifetimes: Lifetimes, clock: Callable[[], datetime] = db.utcnow) -> None:
        self.lifetimes = lifetimes
        self.clock = clock

    # codes

    def save_code(
        self,
        code: str,
        *,
        client_id: str,
        subject: Subject,
        redirect_uri: str,
        scopes: list[str],
        challenge: str | None,
        challenge_method: str | None,
    ) -> None:
        with db.transaction() as conn:
            conn.execute(
                oauth_codes.insert().values(
                    code_hash=credentials.digest(code), client_id=client_id, username=subject.username,
                    tenant_id=subject.tenant_id, redirect_uri=redirect_uri, scopes=scopes,
                    code_challenge=challenge, code_challenge_method=challenge_method,
                    expires_at=self.clock() + timedelta(seconds=self.lifetimes.code), used_at=None,
                )
            )  # fmt: skip

    def find_code(self, code: str, client_id: str) -> CodeRecord | None:
        """The unexpired code issued to this client (used or not), or None."""
        if not credentials.well_formed(code, credentials.OAUTH_CODE_PREFIX):
            return None
        with db.reading() as conn:
            row = conn.execute(
                sa.select(oauth_codes).where(
                    oauth_codes.c.code_hash == credentials.digest(code), oauth_codes.c.client_id == client_id
                )
            ).first()
        expires_at = None if row is None else db.as_utc(row.expires_at)
        if row is None or expires_at is None or expires_at <= self.clock():
            return None
        return CodeRecord(
            code_hash=row.code_hash, client_id=row.client_id, username=row.username, tenant_id=row.tenant_id,
            redirect_uri=row.redirect_uri, scopes=tuple(row.scopes), code_challenge=row.code_challenge,
            code_challenge_method=row.code_challenge_method, used_at=db.as_utc(row.used_at),
        )  # fmt: skip

    def claim_code(self, code_hash: str) -> bool:
        """Spend a code; False when another request spent it first."""
        with db.transaction() as conn:
            result = conn.execute(
                oauth_codes.update()
                .where(oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at.is_(None))
                .values(used_at=self.clock())
            )
        return bool(result.rowcount == 1)

    def revoke_issued_from(self, code: CodeRecord) -> int:
        """RFC 6749 §4.1.2: a code presented twice may have leaked, so the tokens issued for it go.

        Tokens do not record their code; those of the same client and user issued since the code was
        spent are revoked (a superset: the worst case is that the user authorizes the client again).
        """
        if code.used_at is None:
            return 0
        with db.transaction() as conn:
            result = conn.execute(
                oauth_tokens.update()
                .where(
                    oauth_tokens.c.client_id == code.client_id,
                    oauth_tokens.c.username == code.username,
                    oauth_tokens.c.issued_at >= code.used_at,
                    oauth_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock())
            )
        return int(result.rowcount or 0)

    # tokens

    def save_token(self, token: dict[str, Any], *, client_id: str, subject: Subject) -> None:
        now = self.clock()
        refresh = token.get("refresh_token")
        with db.transaction() as conn:
            conn.execute(
                oauth_tokens.insert().values(
                    token_hash=credentials.digest(token["access_token"]),
                    refresh_token_hash=credentials.digest(refresh) if refresh else None,
                    client_id=client_id, username=subject.username, tenant_id=subject.tenant_id,
                    scopes=scope_to_list(token.get("scope")) or [], issued_at=now,
                    expires_at=now + timedelta(seconds=int(token["expires_in"])), revoked_at=None,
                )
            )  # fmt: skip

    def find_refresh(self, refresh_token: str) -> TokenRecord | None:
        """The live token row a refresh token belongs to, or None when unknown, revoked or expired."""
        if not credentials.well_formed(refresh_token, credentials.OAUTH_REFRESH_PREFIX):
            return None
        with db.reading() as conn:
            row = conn.execute(
                sa.select(oauth_tokens).where(
                    oauth_tokens.c.refresh_token_hash == credentials.digest(refresh_token),
                    oauth_tokens.c.revoked_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        issued_at = db.as_utc(row.issued_at)
        if issued_at is None or issued_at + timedelta(seconds=self.lifetimes.refresh) <= self.clock():
            return None
        return _token_record(row)

    def find_token(self, value: str) -> TokenRecord | None:
        """The row of an access or refresh token, whatever its state (for revocation)."""
        if credentials.well_formed(value, credentials.OAUTH_TOKEN_PREFIX):
            column = oauth_tokens.c.token_hash
        elif credentials.well_formed(value, credentials.OAUTH_REFRESH_PREFIX):
            column = oauth_tokens.c.refresh_token_hash
        else:
            return None
        with db.reading() as conn:
            row = conn.execute(sa.select(oauth_tokens).where(column == credentials.digest(value))).first()
        return None if row is None else _token_record(row)

    def claim_token(self, token_hash: str) -> bool:
        """Revoke a live row; False when it was already revoked (e.g. by a racing refresh)."""
        with db.transaction() as conn:
            result = conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.token_hash == token_hash, oauth_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return bool(result.rowcount == 1)


def _token_record(row: Any) -> TokenRecord:
    return TokenRecord(
        token_hash=row.token_hash, client_id=row.client_id, username=row.username,
        tenant_id=row.tenant_id, scopes=tuple(row.scopes),
    )  # fmt: skip


# --- grants and endpoints ------------------------------------------------------------------------


class S256Required(CodeChallenge):
    """PKCE on every authorization request, S256 only: authlib's own extension lets a confidential
    client skip PKCE and defaults a missing method to ``plain``."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256."
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 (plain is refused).")
        super().validate_code_challenge(grant, redirect_uri)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.server.subject(self.client.record.username, None) is None:
            raise UnauthorizedClientError("The user this client acts as no longer exists.")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: PlatformClient) -> str:
        # Ours, not authlib's: its message quotes the URI, and a quote character in it would make
        # authlib refuse its own error description (a 500).
        uri = request.payload.redirect_uri
        if not uri:
            raise InvalidRequestError("redirect_uri is required and must match a registered URI exactly.")
        if not client.check_redirect_uri(uri):
            raise InvalidRequestError("redirect_uri is not one of the URIs registered for this client.")
        return str(uri)

    def generate_authorization_code(self) -> str:
        return credentials.mint(credentials.OAUTH_CODE_PREFIX)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.store.save_code(
            code,
            client_id=request.client.get_client_id(),
            subject=request.user,
            redirect_uri=request.payload.redirect_uri,
            scopes=scope_to_list(request.scope) or [],
            challenge=data.get("code_challenge"),
            challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: PlatformClient) -> CodeRecord | None:
        record = self.server.store.find_code(code, client.get_client_id())
        if record is not None and record.used_at is not None:
            self.server.store.revoke_issued_from(record)
            return None
        return record

    def create_token_response(self) -> Any:
        # Spend the code before anything is issued (authlib deletes it only after saving the token).
        if not self.server.store.claim_code(self.request.authorization_code.code_hash):
            raise InvalidGrantError("The code has already been used.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing left to do: ``create_token_response`` spent the code first."""

    def authenticate_user(self, authorization_code: CodeRecord) -> Subject | None:
        return self.server.subject(authorization_code.username, authorization_code.tenant_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord:
        token = self.server.store.find_refresh(refresh_token)
        if token is None:
            raise InvalidGrantError("The refresh token is unknown, expired, revoked or already used.")
        return token

    def authenticate_user(self, refresh_token: TokenRecord) -> Subject | None:
        return self.server.subject(refresh_token.username, refresh_token.tenant_id)

    def create_token_response(self) -> Any:
        # Rotation: the old row (refresh token and its access token) dies before the new one exists.
        if not self.server.store.claim_token(self.request.refresh_token.token_hash):
            raise InvalidGrantError("The refresh token has already been used.")
        return super().create_token_response()

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        """Nothing left to do: ``create_token_response`` revoked it first."""


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_token(self, request: OAuth2Request, client: PlatformClient) -> TokenRecord | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: another client's token is left alone, and the answer is still 200.
        return token if token is not None and token.check_client(client) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.store.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: OAuth2Request) -> None:
        self.server.store.claim_token(token.token_hash)


# --- the server ----------------------------------------------------------------------------------


class _PlatformRequest(FlaskOAuth2Request):
    """authlib refuses request URLs on plain http (loopback aside). Transport security is the
    deployment's here: TLS usually ends at a proxy in front of Airflow, which Airflow's own login
    relies on just the same; so the check is skipped and the real URL kept."""

    def __init__(self, request: Any) -> None:
        OAuth2Request.__init__(
            self, request.method, "https://checked.by.deployment/", headers=request.headers
        )
        self.uri = request.url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class PlatformAuthorizationServer(AuthorizationServer):
    """authlib's Flask server with our clients, storage and token format; no Flask app attached."""

    def __init__(
        self,
        *,
        find_client: Callable[[str], ClientRecord | None],
        store: GrantStore,
        user_exists: Callable[[str], bool],
    ) -> None:
        super().__init__()
        self.find_client = find_client
        self.store = store
        self.user_exists = user_exists
        self.scopes_supported = sorted(scopes.ALL_SCOPES)
        self.register_token_generator("default", self.generate_bearer_token)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [S256Required(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> PlatformClient | None:
        record = self.find_client(client_id)
        return None if record is None else PlatformClient(record)

    def subject(self, username: str, tenant_id: str | None) -> Subject | None:
        return Subject(username, tenant_id) if self.user_exists(username) else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: PlatformClient = request.client
        subject = request.user or Subject(client.record.username, client.record.tenant_id)
        self.store.save_token(token, client_id=client.get_client_id(), subject=subject)

    def generate_bearer_token(
        self,
        grant_type: str,
        client: PlatformClient,
        user: Subject | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")
        token: dict[str, Any] = {
            "access_token": credentials.mint(credentials.OAUTH_TOKEN_PREFIX),
            "token_type": "Bearer",
            "expires_in": expires_in or self.store.lifetimes.access,
            "scope": granted,
        }
        if include_refresh_token and client.check_grant_type("refresh_token"):
            token["refresh_token"] = credentials.mint(credentials.OAUTH_REFRESH_PREFIX)
        return token

    def validate_requested_scope(self, scope: str | None) -> None:
        unknown = [s for s in scope_to_list(scope) or [] if s not in scopes.ALL_SCOPES]
        if unknown:
            # Only echo what is safe in an RFC 6749 error description.
            named = " ".join(s for s in unknown if _SAFE_SCOPE.match(s))
            raise InvalidScopeError(f"Unknown scope(s) {named}. Use * or <area>:read or <area>:write.")

    def get_token_grant(self, request: OAuth2Request) -> Any:
        try:
            return super().get_token_grant(request)
        except UnsupportedGrantTypeError as error:
            error.description = "Use grant_type client_credentials, authorization_code or refresh_token."
            raise

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        if request.payload.response_type != "code":
            # authlib would quote the response_type in its description (a 500 on a quote character).
            raise UnsupportedResponseTypeError(
                "code", "Only response_type=code is supported.", redirect_uri=self._error_redirect(request)
            )
        return super().get_authorization_grant(request)

    def _error_redirect(self, request: OAuth2Request) -> str | None:
        """Where an error may be sent back: only a registered URI of an existing client."""
        client = self.query_client(request.payload.client_id or "")
        uri = request.payload.redirect_uri
        return str(uri) if client is not None and uri and client.check_redirect_uri(uri) else None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        from flask import request as flask_request

        return _PlatformRequest(flask_request)


def build_authorization_server() -> PlatformAuthorizationServer:
    from airflow_platform import compat
    from airflow_platform.services.oauth_clients import OAuthClientService

    # authlib logs issued tokens at DEBUG ("Issue token {...}"): keep secrets out of Airflow's logs.
    authlib_log = logging.getLogger("authlib")
    if authlib_log.getEffectiveLevel() < logging.INFO:
        authlib_log.setLevel(logging.INFO)
    return PlatformAuthorizationServer(
        find_client=OAuthClientService.find_active,
        store=GrantStore(Lifetimes.from_config()),
        user_exists=compat.user_exists,
    )


def authorization_server() -> PlatformAuthorizationServer:
    """The current Flask app's server, built on first use (Airflow 2's app or our own)."""
    from flask import current_app

    extensions = current_app.extensions
    server = extensions.get(_EXTENSION_KEY)
    if server is None:
        server = extensions.setdefault(_EXTENSION_KEY, build_authorization_server())
    return server
