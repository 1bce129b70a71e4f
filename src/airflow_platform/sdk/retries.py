"""When to try a request again, and how long to wait first.

Retried: 429, 502, 503 and 504 answers and transport errors, with exponential backoff and jitter,
honouring ``Retry-After`` (seconds or an HTTP date) and ``X-RateLimit-Reset``. Never retried: a
request that is not idempotent (POST, PATCH) once it may have reached the server. Such a request is
retried only when the connection failed before anything was sent, because only then is it certain
that the server did nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Transport errors raised before the request left the client.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (delta or date), else ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError, IndexError):
                return None
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    #: A server asking for a longer wait than this is not retried: the caller decides.
    max_retry_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter so that many clients do not retry in step."""
        base = min(self.initial_delay * (2**attempt), self.max_delay)
        return base * (0.5 + random.random() / 2)

    def delay_for_response(self, attempt: int, idempotent: bool, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying this answer, or None to give up."""
        if attempt >= self.max_retries or not idempotent or response.status_code not in RETRY_STATUSES:
            return None
        wait = retry_after_seconds(response.headers)
        if wait is None:
            return self.backoff(attempt)
        return wait if wait <= self.max_retry_after else None

    def delay_for_error(self, attempt: int, idempotent: bool, error: httpx.TransportError) -> float | None:
        if attempt >= self.max_retries:
            return None
        if not idempotent and not isinstance(error, NOT_SENT_ERRORS):
            return None
        return self.backoff(attempt)
