"""A small loopback HTTP receiver for webhook tests, recording every request it gets.

Usage::

    with Receiver() as rx:                     # 127.0.0.1, a free port, answers 200
        send(rx.url("/hook"), ...)
        [request] = rx.wait_for(1)             # waits (bounded) until one request arrived
        Webhook(secret).verify(request.body, request.headers)

Options (attributes, changeable while it runs): ``status`` to answer, ``delay`` seconds before
answering, ``redirect_to`` (answers ``status`` — 302 unless given — with that ``Location``), ``body``
and ``headers`` of the answer, or a ``responder(request) -> (status, headers, body)`` callable for
anything else (e.g. fail twice, then succeed). ``host="::1"`` listens on IPv6 loopback; ``tls=`` an
``ssl.SSLContext`` makes it an https receiver; ``port=`` a fixed port (default: a free one). Only
loopback addresses may be used. ``FakeDNS`` below answers chosen host names at the socket boundary.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    #: Header names lower-cased (the last value wins for repeated names; ``raw_headers`` has all).
    headers: dict[str, str]
    body: bytes
    #: ``time.time()`` when the request was fully read.
    time: float
    client: tuple[str, int]
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    #: The TLS server name the client sent (https receivers only).
    sni: str | None = None


Responder = Callable[[RecordedRequest], tuple[int, dict[str, str], bytes]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 resets connections when tests send in parallel
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def _handle(self) -> None:
        rx = self.server.receiver
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        sni = None
        if isinstance(self.connection, ssl.SSLSocket):
            sni = rx._sni_by_peer.get((str(self.client_address[0]), int(self.client_address[1])))
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            time=time.time(),
            client=(str(self.client_address[0]), int(self.client_address[1])),
            raw_headers=list(self.headers.items()),
            sni=sni,
        )
        rx._record(request)
        if rx.delay:
            rx._stopping.wait(rx.delay)
        status, headers, answer = rx._answer(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Receiver:
    """A threaded ``http.server`` on a loopback address and a free port, recording every request."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        status: int = 200,
        delay: float = 0.0,
        redirect_to: str | None = None,
        body: bytes = b'{"ok": true}',
        headers: dict[str, str] | None = None,
        responder: Responder | None = None,
        tls: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("test receivers listen on loopback addresses only")
        self.host = host
        self.status = status
        self.delay = delay
        self.redirect_to = redirect_to
        self.body = body
        self.headers = dict(headers or {"Content-Type": "application/json"})
        self.responder = responder
        self.tls = tls
        self._port = port
        self.requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sni_by_peer: dict[tuple[str, int], str | None] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Receiver:
        is_v6 = ":" in self.host

        class Server(_Server):
            address_family = socket.AF_INET6 if is_v6 else socket.AF_INET

        server = Server((self.host, self._port), _Handler)
        server.receiver = self
        if self.tls is not None:
            self.tls.sni_callback = self._remember_sni
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"receiver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the receiver first"
        return int(self._server.server_address[1])

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The receiver's URL; ``host`` replaces the address (a name that resolves to it, say)."""
        scheme = "https" if self.tls is not None else "http"
        netloc = f"{host}:{self.port}" if host else self.netloc
        return f"{scheme}://{netloc}{path}"

    # --- recording ------------------------------------------------------------------------------

    def _remember_sni(
        self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext
    ) -> None:
        try:
            peer = sock.getpeername() if isinstance(sock, ssl.SSLSocket) else None
        except OSError:
            peer = None
        if peer is not None:
            self._sni_by_peer[(str(peer[0]), int(peer[1]))] = name

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if self.responder is not None:
            return self.responder(request)
        if self.redirect_to is not None:
            status = self.status if 300 <= self.status < 400 else 302
            return status, {"Location": self.redirect_to}, b""
        return self.status, dict(self.headers), self.body

    def wait_for(self, count: int, timeout: float = 30.0) -> list[RecordedRequest]:
        """The first ``count`` requests, waiting up to ``timeout`` s for them (never a timing check:
        the caller asserts on what arrived)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests[:count]) if len(self.requests) >= count else list(self.requests)

    def clear(self) -> None:
        with self._cond:
            self.requests.clear()


# --- a fake resolver at the socket boundary --------------------------------------------------

Answer = list[str] | Callable[[int], list[str]]


class FakeDNS:
    """A stand-in for ``socket.getaddrinfo`` that answers chosen names and passes others through.

    Install it with ``monkeypatch.setattr(socket, "getaddrinfo", dns)``. An answer is a list of
    addresses, or a callable given the 1-based number of this name's lookup (to change answers
    between lookups: DNS rebinding); an empty list answers "name not known". ``calls`` records every
    faked lookup in order.
    """

    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers: dict[str, Answer] = {k.lower().rstrip("."): v for k, v in (answers or {}).items()}
        self.calls: list[str] = []
        self._real = socket.getaddrinfo
        self._lock = threading.Lock()

    def __setitem__(self, name: str, answer: Answer) -> None:
        self.answers[name.lower().rstrip(".")] = answer

    def lookups(self, name: str) -> int:
        return self.calls.count(name.lower().rstrip("."))

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        key = host.lower().rstrip(".") if isinstance(host, str) else host
        if key not in self.answers:
            return self._real(host, port, family, type, proto, flags)
        with self._lock:
            self.calls.append(key)
            number = self.calls.count(key)
        answer = self.answers[key]
        addresses = answer(number) if callable(answer) else answer
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port_number = int(port or 0)
        result: list[tuple[Any, ...]] = []
        for address in addresses:
            if ":" in address:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port_number, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_number)))
        return result


def ipv6_loopback_available() -> bool:
    """Whether this kernel has ``::1`` (containers often run without IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False
