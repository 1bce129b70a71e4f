"""Airflow 3: the platform's Flask app as an ASGI app, with one thread hand-off per answer.

``a2wsgi`` runs the WSGI app in a thread and crosses back to the event loop for everything the
app touches: reading the body, ``start_response``, each body chunk and the final empty chunk, each
a blocking round trip (``run_coroutine_threadsafe(...).result()``). Measured on a real Airflow
3.3.2 server, 2 cores: between the answer's start and its body alone, 0.9 ms of a 3.6 ms one-row
query (``bench/query_overhead.py``), as the loop, the request's thread and the query's thread take
turns at the GIL. Most of the platform's answers are small and complete when the view returns, so:

* a body of known length up to `BUFFER_BODY_BYTES` is read on the loop while the app starts in its
  thread (larger or chunked uploads are read as the app asks, through ``a2wsgi``'s ``Body``);
* the app runs in a worker thread, which also gathers the answer when it is a finished sequence of
  bytes (werkzeug's ``Response.is_sequence``, flagged by `mark_buffered`): the loop then sends it
  whole, one hand-off in all;
* an answer that is a stream (CSV, Arrow, large JSON pages) is pulled by the loop chunk by chunk
  from the worker pool, the next chunk made while the last is sent (one ahead, so a slow client
  slows the producer rather than filling memory), and the iterable is closed on the way out.

``a2wsgi``'s environ builder and body reader are reused; what this adds is the buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import io
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Request bodies up to this size (with a Content-Length) are read before the app runs.
BUFFER_BODY_BYTES = 1 << 20
#: The environ key `mark_buffered` sets when the answer is a finished sequence of bytes.
BUFFERED_KEY = "airflow_platform.buffered_answer"

_END = object()


def mark_buffered(response: Any) -> Any:
    """Flask ``after_request`` hook: tell the bridge the answer can be gathered in one go."""
    from flask import request

    if response.is_sequence and not response.direct_passthrough:
        request.environ[BUFFERED_KEY] = True
    return response


class _Answer:
    """What ``start_response`` was given, from the worker thread."""

    __slots__ = ("headers", "status", "written")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.written: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        # Nothing is sent before the app returns, so a second call (with exc_info) just replaces.
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(k.strip().lower().encode("latin1"), v.strip().encode("latin1")) for k, v in headers]
        return self.written.append  # PEP 3333's legacy write(); Flask never calls it


class WSGIBridge:
    def __init__(self, app: WSGIApp, *, workers: int = 16) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="platform-wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An HTTP request (the root middleware sends nothing else here)."""
        from a2wsgi.wsgi import Body, build_environ

        loop = asyncio.get_running_loop()
        length = _content_length(scope)
        body: Any
        arriving: asyncio.Task[None] | None = None
        if length == 0:
            body = io.BytesIO()
        elif length is not None and length <= BUFFER_BODY_BYTES:
            # Read on the loop while the app starts in its thread (a client often sends the body
            # a moment after the headers): the thread waits only if it needs the body first.
            body = _ArrivingBody()
            arriving = loop.create_task(body.arrive(receive))
        else:
            body = Body(loop, receive)  # type: ignore[arg-type]
        environ: dict[str, Any] = build_environ(scope, body)  # type: ignore[arg-type,assignment]
        environ["wsgi.input_terminated"] = True  # the body ends where the request does (chunked too)
        answer = _Answer()
        context = contextvars.copy_context()

        def run_app() -> tuple[Iterable[bytes], bytes | None]:
            iterable = self.app(environ, answer.start_response)
            if not environ.get(BUFFERED_KEY):
                return iterable, None
            try:
                return iterable, b"".join([*answer.written, *iterable])
            finally:
                _close(iterable)

        try:
            iterable, whole = await loop.run_in_executor(
                self.executor, functools.partial(context.run, run_app)
            )
        finally:
            if arriving is not None and not arriving.done():
                arriving.cancel()  # the app answered without the rest of the body
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        if whole is not None:
            await send({"type": "http.response.body", "body": whole})
            return
        iterator: Iterator[bytes] = iter(iterable)
        step = functools.partial(context.run, next, iterator, _END)
        pending: asyncio.Future[Any] | None = None
        try:
            for early in answer.written:
                await send({"type": "http.response.body", "body": early, "more_body": True})
            pending = loop.run_in_executor(self.executor, step)
            while True:
                chunk = await pending
                if chunk is _END:
                    break
                # The next chunk is made while this one is sent (one ahead, no more: a slow client
                # still slows the producer).
                pending = loop.run_in_executor(self.executor, step)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            if pending is not None and not pending.done():
                with contextlib.suppress(BaseException):  # a generator is closed only when idle
                    await asyncio.shield(pending)
            await loop.run_in_executor(self.executor, functools.partial(context.run, _close, iterable))


def _content_length(scope: Scope) -> int | None:
    """The body's length; None when it is chunked (HTTP/1.1: neither header means no body)."""
    length = 0
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length


class _ArrivingBody:
    """``wsgi.input`` for a body the loop is still receiving: reads wait until all of it is there."""

    def __init__(self) -> None:
        self._arrived = threading.Event()
        self._data = io.BytesIO()

    async def arrive(self, receive: Receive) -> None:
        parts = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away: the app sees what came
                    break
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        finally:
            self._data = io.BytesIO(b"".join(parts))
            self._arrived.set()

    def read(self, size: int | None = -1) -> bytes:
        self._arrived.wait()
        return self._data.read(size)

    def readline(self, size: int | None = -1) -> bytes:
        self._arrived.wait()
        return self._data.readline(size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        self._arrived.wait()
        return self._data.readlines(hint)

    def __iter__(self) -> Iterator[bytes]:
        self._arrived.wait()
        return iter(self._data)


def _close(iterable: Iterable[bytes]) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()
