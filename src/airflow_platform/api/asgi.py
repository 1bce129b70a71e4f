"""Airflow 3: the root ASGI middleware of the platform.

* Paths under our prefixes go to the platform's Flask app (through ``api.wsgi_bridge``): Airflow 3 answers
  every ``/api/v1/*`` path with 404 "removed", so we must see requests before Airflow routes them.
* Any other request carrying ``X-API-Key`` has the key checked (and rate-limited) and exchanged
  for a short-lived Airflow JWT of the key's user, so Airflow's own API authorizes that user.

The Flask app is built on the first platform request, not at import, so the plugin costs
Airflow's start almost nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import orjson

from airflow_platform.api.paths import is_airflow_v1_path, is_platform_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JWT_LIFETIME_S = 300
_JWT_MARGIN_S = 60


class PlatformRootMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._platform: ASGIApp | None = None
        self._lock = threading.Lock()
        self._jwts: dict[str, tuple[str, float]] = {}
        self._v1: Any = None

    def _platform_app(self) -> ASGIApp:
        if self._platform is None:
            with self._lock:
                if self._platform is None:
                    from airflow_platform.api.app import create_app
                    from airflow_platform.api.wsgi_bridge import WSGIBridge

                    self._platform = cast(ASGIApp, WSGIBridge(cast(Any, create_app()), workers=16))
        assert self._platform is not None
        return self._platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # each API-server worker process starts, once
            _start_webhook_dispatcher()
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path") or ""
            if root and path.startswith(root):
                path = path[len(root) :]
            if is_platform_path(path):
                await self._platform_app()(scope, receive, _binary_uncompressed(send))
                return
            if is_airflow_v1_path(path):  # Airflow 3 removed /api/v1: the reference's calls, via /api/v2
                await self._v1_facade()(scope, receive, send, path)
                return
            key = _header(scope, b"x-api-key") or _oauth_token(scope)
            if key is not None:
                await self._with_key(key, path, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _v1_facade(self) -> Any:
        if self._v1 is None:
            from airflow_platform.api.airflow_v1.facade import V1Facade

            self._v1 = V1Facade(self.app, self._exchange)
        return self._v1

    # --- a platform key on Airflow's own API ---------------------------------------------------

    def _exchange(self, secret: str, method: str, path: str) -> tuple[str, dict[str, str]]:
        from airflow_platform import compat
        from airflow_platform.auth.airflow_api import check_key

        use = check_key(secret, method, path)
        cached = self._jwts.get(use.key_id)
        now = time.monotonic()
        if cached is None or cached[1] <= now:
            token = compat.airflow_jwt_for(use.user, JWT_LIFETIME_S)
            cached = (token, now + JWT_LIFETIME_S - _JWT_MARGIN_S)
            self._jwts[use.key_id] = cached
        return cached[0], use.rate_headers

    async def _with_key(self, secret: str, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        from anyio import to_thread

        from airflow_platform.auth.airflow_api import error_body
        from airflow_platform.exceptions import PlatformError

        try:
            token, rate_headers = await to_thread.run_sync(self._exchange, secret, scope["method"], path)
        except PlatformError as e:
            rid = _header(scope, b"x-request-id") or f"req_{uuid.uuid4().hex}"
            body = orjson.dumps(error_body(e, rid))
            headers = [(b"content-type", b"application/json"), (b"x-request-id", rid.encode())]
            headers += [(k.lower().encode(), v.encode()) for k, v in e.headers.items()]
            await send({"type": "http.response.start", "status": e.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope = dict(scope)
        scope["headers"] = [
            (k, v) for k, v in scope["headers"] if k not in (b"x-api-key", b"authorization", b"cookie")
        ] + [(b"authorization", f"Bearer {token}".encode())]
        extra = [(k.lower().encode(), v.encode()) for k, v in rate_headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Answers of these types are sent as they are (Arrow and Parquet: binary, mostly incompressible).
_UNCOMPRESSED_TYPES = frozenset({b"application/vnd.apache.arrow.stream", b"application/vnd.apache.parquet"})


def _binary_uncompressed(send: Send) -> Send:
    """Keep Airflow's GZipMiddleware (which wraps this middleware) off Arrow and Parquet answers.

    Starlette's GZip responder leaves a response alone when it already has a Content-Encoding, so
    such answers get ``Content-Encoding: identity``. Gzipping 26 MB of Arrow costs about a second
    (NOTES.md) for little gain, and Arrow clients read the stream as it comes.
    """

    async def send_checked(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            names = {bytes(k).lower(): bytes(v) for k, v in headers}
            media = names.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            if media in _UNCOMPRESSED_TYPES and b"content-encoding" not in names:
                message = dict(message)
                message["headers"] = [*headers, (b"content-encoding", b"identity")]
        await send(message)

    return send_checked


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return cast(bytes, value).decode("latin-1")
    return None


def _oauth_token(scope: Scope) -> str | None:
    """A platform OAuth2 access token in ``Authorization: Bearer afo_…`` (Airflow's own JWTs pass)."""
    value = _header(scope, b"authorization")
    if value and value[:7].lower() == "bearer " and value[7:].strip().startswith("afo_"):
        return value[7:].strip()
    return None


def _start_webhook_dispatcher() -> None:
    """This worker's webhook dispatcher thread (``[platform] webhook_dispatcher``); never fails startup."""
    from airflow_platform.webhooks.dispatcher import start_background_dispatcher

    start_background_dispatcher()
