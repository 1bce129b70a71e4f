"""The dispatcher: collect events, claim due deliveries, send them concurrently, record each attempt.

It runs as ``airflow-platform webhooks dispatch`` and, by default, as a daemon thread in every
API-server (Airflow 3) or webserver (Airflow 2) process. Any number may run at once: claims are
leases on outbox rows, so each delivery is sent by one dispatcher at a time, always under its one
id. A dispatcher that dies holding leases only delays those deliveries until the leases expire.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_platform.storage import db
from airflow_platform.storage.webhooks import decrypt, decrypt_headers
from airflow_platform.webhooks import collector, outbox
from airflow_platform.webhooks.sender import WebhookSender
from airflow_platform.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

#: Seconds to wait after a failing pass (DB down, tables not migrated yet), doubling up to the cap.
_ERROR_BACKOFF = (1.0, 30.0)
#: After a first answer, how long to gather the answers right behind it into the same transaction.
_GATHER_SECONDS = 0.02
#: Most deliveries one claim takes (one transaction); most answers one completion writes.
CLAIM_MAX = 256
#: An attempt starts only while this much of the lease is left beyond the sender's timeout.
_LEASE_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class _Plan:
    """A webhook's decrypted sending material, kept while its stored (encrypted) values are the same."""

    url: str
    headers: dict[str, str]
    secret: str
    previous_secret: str | None
    previous_expires_at: datetime | None

    def secrets(self, now: datetime) -> list[str]:
        out = [self.secret]
        if self.previous_secret and self.previous_expires_at is not None and self.previous_expires_at > now:
            out.append(self.previous_secret)
        return out


class _Plans:
    """Decrypting a Fernet secret costs tens of microseconds and a webhook's deliveries come in
    hundreds: decrypt each webhook once per distinct stored value (a rotation or an edit changes the
    value, hence the key), not once per send."""

    _MAX = 1024

    def __init__(self) -> None:
        self._plans: dict[tuple[Any, ...], _Plan | Exception] = {}
        self._lock = threading.Lock()

    def get(self, hook: outbox.Hook) -> _Plan:
        key = (
            hook.webhook_id, hook.url, hook.headers_encrypted, hook.secret_encrypted,
            hook.previous_secret_encrypted, hook.previous_secret_expires_at,
        )  # fmt: skip
        with self._lock:
            plan = self._plans.get(key)
        if plan is None:
            try:
                plan = _Plan(
                    url=hook.url,
                    headers=decrypt_headers(hook.headers_encrypted),
                    secret=decrypt(hook.secret_encrypted),
                    previous_secret=(
                        decrypt(hook.previous_secret_encrypted) if hook.previous_secret_encrypted else None
                    ),
                    previous_expires_at=hook.previous_secret_expires_at,
                )
            except Exception as e:  # a secret that no longer decrypts (Fernet key rotated away), ...
                plan = e
            with self._lock:
                if len(self._plans) >= self._MAX:
                    self._plans.clear()
                self._plans[key] = plan
        if isinstance(plan, Exception):
            raise plan
        return plan


def send_one(
    sender: WebhookSender,
    claimed: outbox.Claimed,
    plans: _Plans | None = None,
    min_lease_left: float | None = None,
) -> outbox.Outcome:
    """One attempt: signed afresh (this attempt's timestamp, the delivery's id), never raising.

    Not started with less than ``min_lease_left`` seconds of the lease left (default: the sender's
    timeout and a margin), e.g. a claim that waited in the pool's queue too long: another dispatcher
    may take the delivery once the lease ends, and two attempts of one delivery must not overlap.
    Such a delivery is released, not attempted."""
    now = db.utcnow()
    if min_lease_left is None:
        min_lease_left = sender.timeout + _LEASE_MARGIN_SECONDS
    if now + timedelta(seconds=min_lease_left) > claimed.lease_until:
        return outbox.Outcome(claimed, now, None, None, 0.0, released=True)
    try:
        plan = (plans or _Plans()).get(claimed.hook)
        body = claimed.payload.encode()
        headers = {
            **plan.headers,
            **signed_headers(plan.secrets(now), claimed.delivery_id, int(time.time()), body),
        }
        result = sender.send(plan.url, body, headers)
    except Exception as e:
        return outbox.Outcome(claimed, now, None, f"not sent: {type(e).__name__}: {e}"[:1000], 0.0)
    return outbox.Outcome(claimed, now, result.response_status, result.error, result.duration_ms)


class Dispatcher:
    """Collects, claims and records on its own thread; sends on a pool of ``concurrency`` threads.

    Claims and sends overlap: the next claim is taken as soon as fewer than half of the deliveries
    one claim may hold are in flight, not after the slowest send of the last claim. Answers are
    written in one transaction per gathering (everything answered since the last write)."""

    def __init__(
        self,
        sender: WebhookSender | None = None,
        *,
        concurrency: int | None = None,
        poll_seconds: float | None = None,
        lease_seconds: float | None = None,
        owner: str | None = None,
        collect: bool = True,
    ) -> None:
        """``collect=False``: only deliver what is queued (tests; a collector running elsewhere)."""
        from airflow_platform import config

        self.sender = sender or WebhookSender()
        self.concurrency = concurrency or config.get_int("webhook_concurrency")
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else float(config.get("webhook_poll_seconds"))
        )
        self.lease_seconds = lease_seconds or float(config.get_int("webhook_lease_seconds"))
        self.owner = owner or outbox.owner_name()
        self.collect = collect
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="platform-webhook"
        )
        self._plans = _Plans()
        self._answers: queue.SimpleQueue[outbox.Outcome] = queue.SimpleQueue()
        self._in_flight = 0
        #: Attempts recorded so far (released deliveries are not attempts).
        self.attempts = 0
        self._last_collect = 0.0
        self._last_claim = 0.0
        self._more_due = False

    @property
    def claim_limit(self) -> int:
        """How many deliveries may be held at once: as many as the pool can attempt before the
        lease ends even if every attempt takes the sender's whole timeout (at most ``CLAIM_MAX``)."""
        rounds = int((self.lease_seconds - _LEASE_MARGIN_SECONDS) // max(self.sender.timeout, 0.001))
        return max(1, min(CLAIM_MAX, self.concurrency * max(1, rounds)))

    @property
    def min_lease_left(self) -> float:
        """Lease an attempt needs left to start: the sender's timeout and a margin, or half the lease
        when the lease is shorter than that (configured below the timeout, as the crash test does)."""
        return min(self.sender.timeout + _LEASE_MARGIN_SECONDS, self.lease_seconds / 2)

    # --- one step --------------------------------------------------------------------------------

    def _collect_if_due(self, force: bool = False) -> int:
        if force or time.monotonic() - self._last_collect >= self.poll_seconds:
            self._last_collect = time.monotonic()
            return collector.collect() if self.collect else 0
        return 0

    def _claim(self, force: bool = False) -> int:
        """Claim more when the pipeline runs low, and either more may be due (the last claim was
        full, or the collector just queued rows) or a poll interval passed (retries come due)."""
        limit = self.claim_limit
        if self._in_flight > limit // 2:
            return 0
        if not (force or self._more_due or time.monotonic() - self._last_claim >= self.poll_seconds):
            return 0
        self._last_claim = time.monotonic()
        room = limit - self._in_flight
        claimed = outbox.claim(self.owner, room, self.lease_seconds)
        self._more_due = len(claimed) >= room
        min_left = self.min_lease_left
        for c in claimed:
            self._in_flight += 1
            future = self._pool.submit(send_one, self.sender, c, self._plans, min_left)
            future.add_done_callback(functools.partial(self._answered, c))
        return len(claimed)

    def _answered(self, claimed: outbox.Claimed, future: concurrent.futures.Future[outbox.Outcome]) -> None:
        if future.cancelled():  # stopping: never started, so handed back at once
            self._answers.put(outbox.Outcome(claimed, db.utcnow(), None, None, 0.0, released=True))
            return
        try:
            outcome = future.result()  # send_one never raises, but a lost answer would stall the count
        except BaseException as e:
            outcome = outbox.Outcome(claimed, db.utcnow(), None, f"not sent: {type(e).__name__}: {e}", 0.0)
        self._answers.put(outcome)

    def _finish(self, timeout: float) -> int:
        """Record what has been answered: wait for a first answer (up to ``timeout``), then a moment
        longer for the answers right behind it, and write them all in one transaction."""
        if not self._in_flight:
            return 0
        try:
            outcomes = [self._answers.get(timeout=timeout)]
        except queue.Empty:
            return 0
        deadline = time.monotonic() + _GATHER_SECONDS
        while len(outcomes) < self._in_flight:
            left = deadline - time.monotonic()
            try:
                outcomes.append(self._answers.get(timeout=left) if left > 0 else self._answers.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(outcomes)
        try:
            outbox.complete(outcomes)
        except Exception:
            # Not recorded: these deliveries stay leased and are sent again (same id) when it ends.
            log.exception("Could not record %d webhook attempts", len(outcomes))
            raise
        self.attempts += sum(1 for o in outcomes if not o.released)
        return len(outcomes)

    def run_once(self) -> int:
        """One full pass: collect, then send every due delivery (and wait for them). Answers how many
        attempts were made."""
        self._collect_if_due(force=True)
        before = self.attempts
        while True:
            self._claim(force=True)
            if not self._in_flight:
                return self.attempts - before
            self._finish(timeout=3600)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set; then finishes (records) what is in flight and returns."""
        backoff = _ERROR_BACKOFF[0]
        while not stop.is_set():
            try:
                # New events are claimed at once, not a poll interval later.
                queued = self._collect_if_due()
                self._claim(force=queued > 0)
                until_collect = max(self._last_collect + self.poll_seconds - time.monotonic(), 0.0)
                if self._in_flight:
                    # Wake up on the first answer, or when it is time to collect again.
                    self._finish(timeout=until_collect)
                else:
                    stop.wait(until_collect)
                backoff = _ERROR_BACKOFF[0]
            except Exception:
                log.exception("Webhook dispatcher pass failed; retrying in %.0f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, _ERROR_BACKOFF[1])
        self.drain()

    def drain(self) -> None:
        """Record the attempts in flight and release the claimed deliveries not started yet (a clean
        stop leaves nothing to the lease expiry, and does not wait to send a whole claim)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            while self._in_flight:
                if not self._finish(timeout=self.sender.timeout + 5):
                    break  # nothing answered within a whole attempt's time: leave it to the leases
        except Exception:
            log.exception("Could not record the last webhook attempts; their leases will expire")
        self._pool.shutdown(wait=False)


# --- the background thread of the API server -----------------------------------------------------

_started_pid: int | None = None
_start_lock = threading.Lock()


def ensure_background_dispatcher() -> bool:
    """Start this process's dispatcher thread once (again in a forked child); False when
    ``[platform] webhook_dispatcher`` is off. Touches no DB itself: the thread does, later."""
    global _started_pid
    from airflow_platform import config

    if _started_pid == os.getpid():
        return True
    with _start_lock:
        if _started_pid == os.getpid():
            return True
        if not config.get_bool("webhook_dispatcher"):
            return False
        _started_pid = os.getpid()
        thread = threading.Thread(target=_background, name="platform-webhook-dispatcher", daemon=True)
        thread.start()
    return True


def start_background_dispatcher() -> None:
    """``ensure_background_dispatcher`` for hooks (at-fork, Flask's before-request): never raises,
    answers None (a before-request hook that answers something would replace the response)."""
    try:
        ensure_background_dispatcher()
    except Exception:
        log.exception("Could not start the webhook dispatcher thread")


def _background() -> None:
    try:
        Dispatcher().run(threading.Event())
    except Exception:
        log.exception("The webhook dispatcher thread stopped")
