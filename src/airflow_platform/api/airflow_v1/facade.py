"""The ASGI side of the ``/api/v1`` facade on Airflow 3: one in-process sub-request per call.

A v1 request is matched against :data:`shapes.ROUTES`, turned into the v2 request
(:func:`shapes.plan`), and sent to the rest of Airflow's own ASGI stack (what the root middleware
wraps) as if the caller had asked ``/api/v2`` with the same credentials. Airflow's route does the
work and its permission checks; the answer is mapped back (:func:`shapes.answer`). No socket, no
second authentication scheme: a platform key (or ``afo_`` token) becomes a JWT of its user exactly
as on ``/api/v2``, Airflow JWTs and the UI's ``_token`` cookie pass through untouched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode

import orjson

from airflow_platform.api.airflow_v1 import shapes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: ``(secret, method, path) -> (Airflow JWT, rate-limit headers)``; raises ``PlatformError``.
Exchange = Callable[[str, str, str], tuple[str, dict[str, str]]]

log = logging.getLogger(__name__)

#: Request headers never forwarded: the body is re-encoded, and answers must come back unzipped.
_DROPPED = frozenset(
    {b"content-length", b"content-type", b"accept", b"accept-encoding", b"transfer-encoding"}
)


class V1Facade:
    def __init__(self, app: ASGIApp, exchange: Exchange) -> None:
        self.app = app
        self.exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        from airflow_platform.exceptions import MethodNotAllowedError, PlatformError, ResourceNotFoundError

        rid = _header(scope, b"x-request-id") or f"req_{uuid.uuid4().hex}"
        relative = path[len(shapes.V1_PREFIX) :]
        found = shapes.match(scope["method"], relative)
        if found is None:
            error: PlatformError = ResourceNotFoundError(
                f"{path} is not served: Airflow 3 removed /api/v1. This server answers only the reference's "
                "DAG, DAG run and task calls there; use Airflow's /api/v2 for everything else.",
                details={"path": path, "use": "/api/v2"},
            )
            await _envelope(send, error, rid)
            return
        if isinstance(found, str):
            error = MethodNotAllowedError(
                f"{scope['method']} is not allowed on {path}.",
                details={"path": path, "method": scope["method"]},
            )
            await _envelope(send, error, rid)
            return
        extra_headers: dict[str, str] = {}
        try:
            body = await _read_body(receive)
            query = parse_qsl(
                cast(bytes, scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True
            )
            fields = [f for k, v in query if k == "fields" for f in v.split(",") if f]
            call = shapes.plan(found.op, found.params, query, _json(body))
            headers, extra_headers = await self._credentials(scope, path)
            status, answer = await self._v2(scope, call, headers)
        except PlatformError as e:
            await _envelope(send, e, rid)
            return
        except shapes.V1Error as e:
            await _problem(send, e, rid, extra_headers)
            return
        if status >= 400:
            await _problem(send, shapes.error_from_v2(status, _json_or_none(answer)), rid, extra_headers)
            return
        if status == 204 or found.op == "delete_run":
            await _respond(send, 204, b"", None, rid, extra_headers)
            return
        try:
            v2 = orjson.loads(answer) if answer else {}
            if found.op == "get_log" and _wants_text(scope):
                text = shapes.log_text(v2).encode()
                await _respond(send, 200, text, b"text/plain; charset=utf-8", rid, extra_headers)
                return
            v1 = shapes.only_fields(shapes.answer(found.op, found.params, v2), fields)
        except shapes.V1Error as e:
            await _problem(send, e, rid, extra_headers)
            return
        await _respond(send, 200, orjson.dumps(v1), b"application/json", rid, extra_headers)

    async def _credentials(self, scope: Scope, path: str) -> tuple[list[tuple[bytes, bytes]], dict[str, str]]:
        """The sub-request's headers: a platform key or ``afo_`` token swapped for a JWT of its user
        (checked, scoped and rate-limited as on ``/api/v2``); any other credential passed on as sent."""
        from anyio import to_thread

        headers = [(k, v) for k, v in scope.get("headers", []) if k not in _DROPPED]
        secret = _header(scope, b"x-api-key") or _platform_bearer(scope)
        if secret is None:
            return headers, {}
        token, rate_headers = await to_thread.run_sync(self.exchange, secret, scope["method"], path)
        headers = [(k, v) for k, v in headers if k not in (b"x-api-key", b"authorization", b"cookie")]
        headers.append((b"authorization", f"Bearer {token}".encode()))
        return headers, rate_headers

    async def _v2(
        self, scope: Scope, call: shapes.V2Call, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, bytes]:
        """Airflow's own answer to ``call``, through the ASGI stack below the root middleware."""
        import anyio

        body = orjson.dumps(call.body) if call.body is not None else b""
        root = str(scope.get("root_path") or "")
        sub: dict[str, Any] = {
            k: v for k, v in scope.items() if k not in ("path_params", "route", "endpoint")
        }
        sub.update(
            method=call.method,
            path=root + unquote(call.path),
            raw_path=(root + call.path).encode(),
            query_string=urlencode(call.query).encode(),
            headers=[
                *headers,
                (b"accept", b"application/json"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        )
        status = 500
        chunks: list[bytes] = []
        done = anyio.Event()
        sent = False

        async def sub_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # a disconnect before the answer is complete would cancel it
            return {"type": "http.disconnect"}

        async def sub_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await self.app(sub, sub_receive, sub_send)
        except Exception:
            log.exception("Airflow's /api/v2 failed under the /api/v1 facade: %s %s", call.method, call.path)
            raise shapes.V1Error(500, "Internal error in Airflow's API.", "Internal Server Error") from None
        finally:
            done.set()
        return status, b"".join(chunks)


async def _read_body(receive: Receive) -> bytes:
    from airflow_platform import config
    from airflow_platform.exceptions import PayloadTooLargeError

    limit = config.get_int("max_request_bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise shapes.V1Error(400, "The request body is not valid JSON.", "Invalid request") from None


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {"detail": body.decode("utf-8", "replace")[:500]}


def _wants_text(scope: Scope) -> bool:
    accept = (_header(scope, b"accept") or "").lower()
    return "text/plain" in accept and "application/json" not in accept


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return cast(bytes, value).decode("latin-1")
    return None


def _platform_bearer(scope: Scope) -> str | None:
    from airflow_platform.auth.credentials import OAUTH_TOKEN_PREFIX

    value = _header(scope, b"authorization")
    if value and value[:7].lower() == "bearer " and value[7:].strip().startswith(OAUTH_TOKEN_PREFIX):
        return value[7:].strip()
    return None


async def _respond(
    send: Send, status: int, body: bytes, media: bytes | None, rid: str, extra: dict[str, str]
) -> None:
    headers = [(b"x-request-id", rid.encode())]
    if media is not None:
        headers.append((b"content-type", media))
    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, error: shapes.V1Error, rid: str, extra: dict[str, str]) -> None:
    body = orjson.dumps(shapes.problem(error.status, error.detail, error.title))
    await _respond(send, error.status, body, b"application/problem+json", rid, extra)


async def _envelope(send: Send, error: Any, rid: str) -> None:
    from airflow_platform.auth.airflow_api import error_body

    await _respond(
        send, error.status, orjson.dumps(error_body(error, rid)), b"application/json", rid, error.headers
    )
