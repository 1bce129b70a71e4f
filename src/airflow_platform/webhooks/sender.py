"""The HTTP sender of webhook deliveries, hardened against SSRF.

Between the URL check at create time and a delivery, the DNS answer can change (rebinding), so
``send`` checks the URL again and then connects to exactly the address it checked: the request URL's
host is replaced by that IP, the ``Host`` header keeps the original name and, for https, the TLS
server name (SNI and certificate check) stays the original host name. Redirects are never followed
(a 3xx is a failed delivery) because a redirect target would escape the check; proxies from the
environment are ignored because a proxy would resolve the name itself.

HTTPS connections are pooled per host name: the pool is keyed by the connected IP, and reusing a
TLS session verified for one name to send another name's delivery would skip that name's
certificate check.

``timeout`` bounds the whole attempt, not each socket operation: a receiver that drips its answer a
byte at a time would otherwise hold a dispatcher slot (and outlive its lease) indefinitely. httpx has
no total timeout for sync clients, so the socket layer under it clamps every connect/read/write to
the time left (a thread-local deadline: a sync request runs in its caller's thread).
"""

from __future__ import annotations

import collections
import functools
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from airflow_platform.webhooks.signing import USER_AGENT
from airflow_platform.webhooks.url_guard import AllowList, Target, UnsafeURLError, check_url

if TYPE_CHECKING:
    import httpx

#: Bytes of the receiver's answer kept for the delivery log; the rest is never read.
MAX_RESPONSE_BYTES = 1024
#: HTTPS clients kept (one per host name); the least recently used is closed beyond this.
MAX_TLS_CLIENTS = 64
#: Headers the sender owns: a caller's value would break the pinning or the framing.
_DROPPED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)


@dataclass
class SendResult:
    """One attempt's outcome. ``error`` is None exactly when the receiver answered 2xx."""

    response_status: int | None
    error: str | None
    duration_ms: float
    #: At most 1 KiB of the answer's body (decoded as UTF-8 with replacement), for the delivery log.
    response_body: str | None = None
    #: The address connected to (one the guard checked), or None when nothing was connected.
    address: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class WebhookSender:
    """Sends signed deliveries; thread-safe, with pooled connections; ``send`` never raises."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        allowed: AllowList | None = None,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
    ) -> None:
        """``timeout`` defaults to ``[platform] webhook_timeout_seconds``; ``allowed`` to
        ``[platform] webhook_allowed_hosts`` read at each send; ``verify`` is an SSL context for
        receivers behind a private CA (tests, internal endpoints)."""
        if timeout is None:
            from airflow_platform import config

            timeout = float(config.get_int("webhook_timeout_seconds"))
        self.timeout = float(timeout)
        self._allowed = allowed
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._max_connections = max_connections
        self._lock = threading.Lock()
        self._plain: httpx.Client | None = None
        self._tls: collections.OrderedDict[str, httpx.Client] = collections.OrderedDict()
        self._closed = False
        self._pid = os.getpid()

    # --- clients --------------------------------------------------------------------------------

    def _new_client(self) -> httpx.Client:
        import httpx

        if self._ssl_context is None:
            # Loading the CA bundle costs ~0.1-0.5 s: once per sender, shared by its per-host clients.
            if isinstance(self._verify, ssl.SSLContext):
                self._ssl_context = self._verify
            else:
                self._ssl_context = httpx.create_ssl_context(verify=self._verify, trust_env=False)
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=20)
        transport = httpx.HTTPTransport(verify=self._ssl_context, trust_env=False, limits=limits)
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):  # httpx >= 0.23 / httpcore 1.x
            pool._network_backend = _deadline_backend()
        return httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,  # also keeps the client from mounting proxy transports from the environment
            headers={"user-agent": USER_AGENT},
        )

    def _client(self, scheme: str, host: str) -> httpx.Client:
        evicted: httpx.Client | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError("the webhook sender is closed")
            if self._pid != os.getpid():
                # A forked child must not write into the parent's pooled sockets (nor close them: a
                # TLS close would corrupt the parent's session). Drop them and start afresh.
                self._plain, self._tls, self._pid = None, collections.OrderedDict(), os.getpid()
            if scheme == "http":
                if self._plain is None:
                    self._plain = self._new_client()
                return self._plain
            client = self._tls.get(host)
            if client is None:
                client = self._tls[host] = self._new_client()
                if len(self._tls) > MAX_TLS_CLIENTS:
                    _, evicted = self._tls.popitem(last=False)
            else:
                self._tls.move_to_end(host)
        if evicted is not None:
            evicted.close()
        return client

    def close(self) -> None:
        with self._lock:
            self._closed = True
            clients = [c for c in (self._plain, *self._tls.values()) if c is not None]
            self._plain = None
            self._tls.clear()
        for client in clients:
            client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- sending --------------------------------------------------------------------------------

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """POST ``body`` to ``url``; every failure (refused URL, network, non-2xx) is in ``error``."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout  # the whole attempt, DNS included

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000.0, 3)

        try:
            allowed = self._allowed if self._allowed is not None else AllowList.from_config()
            target = check_url(url, allowed=allowed, resolve_timeout=min(self.timeout, 5.0))
        except UnsafeURLError as exc:
            return SendResult(None, exc.message, elapsed())
        except Exception as exc:  # a broken allow-list config must not crash the dispatcher
            return SendResult(None, f"url check failed: {type(exc).__name__}: {exc}", elapsed())

        request_headers = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
        request_headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        _deadline.at = deadline
        try:
            return self._send_to(target, body, request_headers, extensions, elapsed)
        finally:
            _deadline.at = None

    def _send_to(
        self,
        target: Target,
        body: bytes,
        request_headers: dict[str, str],
        extensions: dict[str, str],
        elapsed: Callable[[], float],
    ) -> SendResult:
        error = "no address to connect to"
        for address in target.addresses:
            try:
                client = self._client(target.scheme, target.host)
                status, snippet, error_or_none = self._post(
                    client, target.url_for(address), body, request_headers, extensions
                )
            except _Retryable as exc:
                error = f"could not connect to {_hostport(address, target.port)}: {exc}"
                continue  # the next checked address may answer
            except Exception as exc:
                return SendResult(None, _describe(exc, self.timeout), elapsed(), address=address)
            return SendResult(status, error_or_none, elapsed(), response_body=snippet, address=address)
        return SendResult(None, error, elapsed())

    def _post(
        self,
        client: httpx.Client,
        url: str,
        body: bytes,
        headers: dict[str, str],
        extensions: dict[str, str],
    ) -> tuple[int, str, str | None]:
        import httpx

        request = client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            raise _Retryable(str(exc) or type(exc).__name__) from exc
        received = bytearray()
        try:
            for chunk in response.iter_raw():
                received += chunk
                if len(received) > MAX_RESPONSE_BYTES:
                    break  # closing an unread stream drops the connection instead of draining it
        except httpx.HTTPError:
            pass  # the status line arrived: it decides; a broken or slow body only loses the snippet
        finally:
            response.close()
        snippet = bytes(received[:MAX_RESPONSE_BYTES]).decode("utf-8", "replace")
        status = response.status_code
        if 200 <= status < 300:
            return status, snippet, None
        if 300 <= status < 400:
            location = response.headers.get("location", "")[:200]
            where = f" to {location}" if location else ""
            return status, snippet, f"redirect not followed: HTTP {status}{where}"
        return status, snippet, f"HTTP {status} {response.reason_phrase}".rstrip()


_deadline = threading.local()


def _clamp(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = max(deadline - time.monotonic(), 0.001)  # spent: the next operation times out at once
    return left if timeout is None else min(timeout, left)


@functools.cache
def _deadline_backend() -> Any:
    """httpcore's sync socket backend with every operation's timeout clamped to the deadline."""
    import httpcore

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _clamp(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _clamp(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self,
            ssl_context: ssl.SSLContext,
            server_hostname: str | None = None,
            timeout: float | None = None,
        ) -> httpcore.NetworkStream:
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.SyncBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            inner = super().connect_tcp(host, port, _clamp(timeout), local_address, socket_options)
            return DeadlineStream(inner)

    return DeadlineBackend()


class _Retryable(Exception):
    """The connection itself failed: another checked address of the same host may work."""


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _describe(exc: Exception, timeout: float) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {timeout:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no answer within {timeout:g} s (read timeout)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"could not send the body within {timeout:g} s (write timeout)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {timeout:g} s (pool timeout)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the receiver broke the HTTP protocol: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return f"unexpected error: {type(exc).__name__}: {exc}"
