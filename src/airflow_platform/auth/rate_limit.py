"""Per-identity request budgets, counted by the ``limits`` library.

Strategy: **moving window**. A client gets exactly *N* requests in any trailing window, with no
burst of 2N across a window boundary (fixed window) and no approximation (the sliding-window
counter weighs the previous window, so it can admit one or two more or fewer than *N* near a
boundary, and its in-memory variant is not atomic under threads). Exactness matters here because
the numbers are a published contract (``X-RateLimit-*`` headers, documented limits, tests). The
cost is one stored timestamp per counted request, so memory per active identity is bounded by the
limit amount (at most 1000 for the default GET budget): cheap for the limits this platform
configures, and the Redis side is a list trimmed to that length. ``Retry-After`` is precise too:
it is the moment the oldest counted request leaves the window.

Storage: ``memory://`` counts per process; ``redis://`` shares one budget across every server
process. A shared store is an optimisation of fairness, never a dependency of availability: when
it fails, requests are counted per process for a cool-down and the store is tried again after it.
"""

from __future__ import annotations

import enum
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import limits
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from airflow_platform import config
from airflow_platform.exceptions import RateLimitError

__all__ = ["RateDecision", "RateLimiter", "RequestClass", "classify", "get_limiter"]

log = logging.getLogger(__name__)

#: How long a failing shared store is left alone before it is tried again.
DEFAULT_FALLBACK_COOLDOWN = 30.0
#: Socket timeouts for Redis: an outage must cost a request milliseconds, not Redis' defaults.
REDIS_TIMEOUT = 0.5

_REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix", "redis+cluster"})
_STORE_NAMES = {"redis": "Redis", "valkey": "Valkey", "memcached": "Memcached", "mongodb": "MongoDB"}


class RequestClass(str, enum.Enum):
    """Kinds of request with separate budgets, because they cost the server very differently."""

    GET = "get"
    WRITE = "write"
    DELETE = "delete"
    QUERY = "query"
    BULK = "bulk"


_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
_BULK_LAST_SEGMENTS = frozenset({"import", "export", "bulk"})
_ANALYTICS_QUERY = "/api/v1/analytics/query"
_SAVED_QUERY_EXECUTE = re.compile(r"/api/v1/analytics/saved-queries/[^/]+/execute")


def classify(method: str, path: str) -> RequestClass:
    """The budget a request draws on.

    Analytics queries and bulk transfers come first because their cost does not depend on the
    HTTP verb (an export is a GET, yet it reads everything); only then does the verb decide.
    """
    if "?" in path:
        path = path.split("?", 1)[0]
    path = path.rstrip("/") or "/"
    method = method.upper()
    if method == "POST" and (path == _ANALYTICS_QUERY or _SAVED_QUERY_EXECUTE.fullmatch(path)):
        return RequestClass.QUERY
    if "/bulk" in path or path.rsplit("/", 1)[-1] in _BULK_LAST_SEGMENTS:
        return RequestClass.BULK
    if method == "DELETE":
        return RequestClass.DELETE
    if method in _WRITE_METHODS:
        return RequestClass.WRITE
    return RequestClass.GET


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one counted request, with everything the HTTP layer must tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int | None
    request_class: RequestClass
    window: str

    def headers(self) -> dict[str, str]:
        """Headers for every answer, so well-behaved clients can pace themselves before a 429."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed and self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def error(self) -> RateLimitError:
        """The 429, carrying its headers so that the error handler needs no rate-limit knowledge."""
        retry = self.retry_after if self.retry_after is not None else max(1, self.reset - int(time.time()))
        klass = self.request_class.value
        return RateLimitError(
            f"Rate limit of {self.limit} per {self.window} for {klass} requests exceeded; retry in {retry} s",
            retry_after=retry,
            details={"limit": self.limit, "window": self.window, "class": klass, "retry_after": retry},
            headers=self.headers(),
        )


@dataclass(frozen=True)
class _Rule:
    """A parsed limit, kept so that a hit never parses or formats anything but its key."""

    item: limits.RateLimitItem
    amount: int
    window: str


def _window_text(item: limits.RateLimitItem) -> str:
    name = item.GRANULARITY.name
    return f"{item.multiples} {name}" if item.multiples == 1 else f"{item.multiples} {name}s"


def _parse_rule(text: str, klass: RequestClass) -> _Rule:
    """Parse one budget; the message names the option because that is where the typo lives."""
    where = f"rate limit for {klass.value} requests ([{config.SECTION}] rate_limit_{klass.value})"
    try:
        items = limits.parse_many(text)
    except ValueError as exc:
        raise ValueError(
            f"Invalid {where}: {text!r} ({exc}); expected e.g. '100/minute' or '1000 per hour'"
        ) from exc
    if len(items) != 1:
        raise ValueError(f"Invalid {where}: {text!r}; give exactly one limit such as '100/minute'")
    item = items[0]
    if item.amount < 1 or item.get_expiry() < 1:
        raise ValueError(
            f"Invalid {where}: {text!r}; the amount and the window must be at least 1 "
            f"(set rate_limit_enabled = False to switch limits off)"
        )
    return _Rule(item=item, amount=item.amount, window=_window_text(item))


def _redacted(uri: str) -> str:
    """The URI without its password, fit for logs and error messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def _storage_options(scheme: str) -> dict[str, Any]:
    """Fail fast on Redis: redis-py would otherwise retry ten times with back-off per command."""
    if scheme in _REDIS_SCHEMES:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry lets a pooled connection that died with a Redis restart reconnect
        # without declaring an outage; more would only lengthen the stall when Redis is really down.
        return {
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
            "retry": Retry(NoBackoff(), 1),
        }
    if scheme.startswith(("redis", "valkey")):
        return {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    return {}


class SweepingMemoryStorage(MemoryStorage):
    """``memory://``, with expired entries swept out once a second.

    limits' own memory storage starts a ``threading.Timer`` to sweep 10 ms after a hit whenever
    none is pending: under steady traffic a new thread every 10 ms, which cost ~30 µs of a 2.6 ms
    one-row query and one more thread taking turns at the GIL. The sweep only frees memory (every
    decision compares timestamps itself), so sweeping less often changes no decision; between
    sweeps a key's list holds at most one second of expired entries more.
    """

    SWEEP_EVERY_S = 1.0

    # limits calls its private ``self.__schedule_expiry()``, i.e. this name-mangled method
    # (limits 5.x; tests/auth/test_rate_limit.py checks that it is the one in use).
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_EVERY_S, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


def _open_storage(uri: str) -> Storage:
    scheme = urlsplit(uri).scheme
    if scheme == "memory":
        return SweepingMemoryStorage()
    option = f"[{config.SECTION}] rate_limit_storage_uri"
    try:
        storage = storage_from_string(uri, **_storage_options(scheme))
    except ConfigurationError as exc:
        reason = str(exc).replace(uri, _redacted(uri))  # limits quotes the URI, password included
        raise ValueError(f"Invalid {option} {_redacted(uri)!r}: {reason}") from exc
    if not isinstance(storage, Storage):
        raise ValueError(f"Invalid {option} {_redacted(uri)!r}: asynchronous storages are not supported")
    return storage


class RateLimiter:
    """Counts requests per identity and request class, and decides.

    Thread-safe: the shared store is atomic on its side (Lua scripts in Redis), and the in-process
    store is driven under one lock so that a decision and the numbers reported with it agree.
    """

    def __init__(
        self,
        storage_uri: str,
        limits_by_class: dict[RequestClass, str],
        *,
        key_prefix: str = "platform",
        fallback_cooldown: float = DEFAULT_FALLBACK_COOLDOWN,
    ) -> None:
        missing = [k.value for k in RequestClass if k not in limits_by_class]
        if missing:
            raise ValueError(f"No rate limit given for request classes: {', '.join(missing)}")
        self._rules = {klass: _parse_rule(limits_by_class[klass], klass) for klass in RequestClass}
        self._prefix = key_prefix
        self._cooldown = fallback_cooldown
        self._uri = _redacted(storage_uri)
        scheme = urlsplit(storage_uri).scheme
        base = scheme.split("+", 1)[0]
        self._storage_name = base[:-1] if base in ("rediss", "valkeys") else base
        storage = _open_storage(storage_uri)
        try:
            strategy = MovingWindowRateLimiter(storage)
        except NotImplementedError as exc:
            raise ValueError(
                f"Invalid [{config.SECTION}] rate_limit_storage_uri {self._uri!r}: "
                f"the storage does not support the moving window strategy"
            ) from exc
        self._shared: MovingWindowRateLimiter | None
        if self._storage_name == "memory":
            self._shared = None
            self._local = strategy
        else:
            self._shared = strategy
            self._local = MovingWindowRateLimiter(SweepingMemoryStorage())
        self._local_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._degraded = False
        self._degraded_until = 0.0  # time.monotonic(); until then the shared store is left alone

    def hit(self, identity: str, klass: RequestClass) -> RateDecision:
        """Count one request of ``klass`` by ``identity`` and decide whether it may proceed.

        Never raises because the shared store failed: a rate limiter that turns a Redis outage into
        a platform outage would be worse than no rate limiter.
        """
        rule = self._rules[klass]
        if self._shared is not None:
            use_shared, probing = self._route()
            if use_shared:
                try:
                    decision = self._decide(self._shared, rule, klass, identity)
                except Exception as exc:  # any store failure: availability wins over exact counting
                    self._fall_back(exc, identity, probing)
                else:
                    if probing:
                        self._recovered()
                    return decision
        with self._local_lock:
            return self._decide(self._local, rule, klass, identity)

    def state(self) -> dict[str, str]:
        """For the health endpoint: whether budgets are currently shared or per process.

        Passive on purpose (no ping): health checks are polled and must not load the store; the
        state changes as soon as a request meets a failing store.
        """
        if self._shared is not None and self._degraded:
            name = _STORE_NAMES.get(self._storage_name, self._storage_name)
            return {
                "storage": self._storage_name,
                "status": "degraded",
                "detail": f"{name} unreachable; counting per process",
            }
        return {"storage": self._storage_name, "status": "healthy"}

    def _decide(
        self, strategy: MovingWindowRateLimiter, rule: _Rule, klass: RequestClass, identity: str
    ) -> RateDecision:
        allowed = strategy.hit(rule.item, self._prefix, klass.value, identity)
        reset_time, remaining = strategy.get_window_stats(rule.item, self._prefix, klass.value, identity)
        now = time.time()
        retry_after = None if allowed else max(1, math.ceil(reset_time - now))
        return RateDecision(
            allowed=allowed,
            limit=rule.amount,
            remaining=max(0, remaining) if allowed else 0,
            reset=math.ceil(max(reset_time, now)),
            retry_after=retry_after,
            request_class=klass,
            window=rule.window,
        )

    def _route(self) -> tuple[bool, bool]:
        """(use the shared store, this request is the probe after a cool-down).

        While degraded, exactly one request per cool-down probes the store, so that a dead Redis
        costs one request a timeout every 30 s rather than every request.
        """
        if not self._degraded:
            return True, False
        now = time.monotonic()
        if now < self._degraded_until:
            return False, False
        with self._state_lock:
            if now < self._degraded_until:
                return False, False
            # Claim the probe: the other threads keep counting locally while this one waits on Redis.
            self._degraded_until = now + self._cooldown
        return True, True

    def _fall_back(self, exc: Exception, identity: str, probing: bool) -> None:
        with self._state_lock:
            # Log the outage once, then once per failed probe (once per cool-down), not per request.
            announce = probing or not self._degraded
            self._degraded = True
            self._degraded_until = time.monotonic() + self._cooldown
        if announce:
            # The identity could in principle reach the message (keys are script arguments); scrub it.
            reason = f"{type(exc).__name__}: {exc}".replace(identity, "<identity>")[:300]
            log.warning(
                "Rate-limit storage %s failed (%s); counting requests per process for %g s",
                self._uri,
                reason,
                self._cooldown,
            )

    def _recovered(self) -> None:
        with self._state_lock:
            if not self._degraded:
                return
            self._degraded = False
            self._degraded_until = 0.0
        log.info("Rate-limit storage %s reachable again; budgets are shared again", self._uri)


_OPTIONS = (
    "rate_limit_storage_uri",
    "rate_limit_fallback_seconds",
    *(f"rate_limit_{klass.value}" for klass in RequestClass),
)


class _Singleton:
    """The process's limiter with the configuration it was built from, swapped as one tuple so
    that a reader never pairs one build's settings with another build's limiter."""

    lock = threading.Lock()
    current: tuple[tuple[str, ...], RateLimiter] | None = None


def _cooldown(text: str) -> float:
    try:
        value = float(text) if text else DEFAULT_FALLBACK_COOLDOWN
    except ValueError:
        raise ValueError(
            f"Invalid [{config.SECTION}] rate_limit_fallback_seconds: {text!r}; expected seconds, e.g. 30"
        ) from None
    if not 0 < value < math.inf:
        raise ValueError(f"Invalid [{config.SECTION}] rate_limit_fallback_seconds: {text!r}; must be > 0")
    return value


def get_limiter() -> RateLimiter | None:
    """The process's limiter, or None when rate limiting is switched off.

    Configuration is read on every call so that a change (tests flip ``AIRFLOW__PLATFORM__*``)
    takes effect without a restart; the limiter, with its counters and Redis pool, is rebuilt
    only when a value actually changed.
    """
    enabled, *values = config.get_many("rate_limit_enabled", *_OPTIONS)
    if enabled.strip().lower() not in ("true", "1", "t", "yes", "y", "on"):
        return None
    settings = tuple(value.strip() for value in values)
    current = _Singleton.current
    if current is not None and current[0] == settings:
        return current[1]
    with _Singleton.lock:
        current = _Singleton.current
        if current is None or current[0] != settings:
            uri, cooldown, *amounts = settings
            limiter = RateLimiter(
                uri or "memory://",
                dict(zip(RequestClass, amounts, strict=True)),
                fallback_cooldown=_cooldown(cooldown),
            )
            current = _Singleton.current = (settings, limiter)
        return current[1]
