"""OAuth2 clients and token answers on the wire.

Redirect URIs are checked at registration, not only at authorization time: a URI that could leak a
code (plain HTTP to another host, a fragment) should never be registered at all.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from airflow_platform.schemas.auth import TENANT_ID_PATTERN
from airflow_platform.schemas.common import RequestModel, WireModel

GrantType = Literal["client_credentials", "authorization_code", "refresh_token"]
MAX_REDIRECT_URI_LENGTH = 2000  # the width of platform_oauth_codes.redirect_uri


def _default_grant_types() -> list[GrantType]:
    return ["client_credentials"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """An absolute https URI, or http to the loopback (RFC 8252 native apps); never a fragment."""
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise ValueError(f"redirect URI longer than {MAX_REDIRECT_URI_LENGTH} characters")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise ValueError(f"{uri!r} is not a URI") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{uri!r} must be an absolute https:// URI")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(f"{uri!r}: plain http is only allowed to localhost or 127.0.0.1; use https")
    if "#" in uri:
        raise ValueError(f"{uri!r} must not contain a fragment (#)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{uri!r} must not carry credentials")
    return uri


class OAuthClientCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="Shown to users on the consent page.")
    grant_types: list[GrantType] = Field(
        default_factory=_default_grant_types,
        min_length=1,
        description="Any of client_credentials, authorization_code, refresh_token.",
    )
    redirect_uris: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Required for authorization_code: https, or http to localhost/127.0.0.1; no fragments. "
        "Matched exactly.",
    )
    scopes: list[str] | None = Field(
        default=None, max_length=50, description="'*' (default) or '<area>:read|write': the most tokens get."
    )
    user: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Airflow user client_credentials tokens act as (platform admins only). "
        "Default: the caller.",
    )
    tenant_id: str | None = Field(
        default=None,
        pattern=TENANT_ID_PATTERN,
        description="Tenant client_credentials tokens act in. Default: the caller's tenant. Platform admins "
        "may leave it empty for a platform-wide client.",
    )

    @field_validator("redirect_uris")
    @classmethod
    def _redirect_uris(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(check_redirect_uri(uri) for uri in value))

    @field_validator("grant_types")
    @classmethod
    def _grant_types(cls, value: list[GrantType]) -> list[GrantType]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _consistent(self) -> OAuthClientCreate:
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ValueError("authorization_code needs at least one redirect URI in redirect_uris")
        if "refresh_token" in self.grant_types and "authorization_code" not in self.grant_types:
            raise ValueError(
                "refresh_token is only issued with authorization_code; add it or drop refresh_token"
            )
        if self.redirect_uris and "authorization_code" not in self.grant_types:
            raise ValueError("redirect_uris are only used by the authorization_code grant")
        return self


class OAuthClient(WireModel):
    client_id: str
    name: str
    user: str = Field(description="The user client_credentials tokens act as.")
    tenant_id: str | None
    grant_types: list[str]
    redirect_uris: list[str]
    scopes: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    status: str = Field(description="active or revoked")


class OAuthClientCreated(OAuthClient):
    client_secret: str = Field(description="The secret. Shown once: it cannot be read again.")


class OAuthClientList(WireModel):
    oauth_clients: list[OAuthClient]
    total_entries: int


class TokenResponse(WireModel):
    """RFC 6749 §5.1: what ``POST /oauth/token`` answers."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the access token stops working.")
    scope: str = Field(description="Space-separated scopes the token carries.")
    refresh_token: str | None = Field(default=None, description="With authorization_code clients only.")
