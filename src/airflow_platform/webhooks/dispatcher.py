"""The dispatcher: collect events, claim due deliveries, send them concurrently, record each attempt.

It runs as ``airflow-platform webhooks dispatch`` and, by default, as a daemon thread in every
API-server (Airflow 3) or webserver (Airflow 2) process. Any number may run at once: claims are
leases on outbox rows, so each delivery is sent by one dispatcher at a time, always under its one
id. A dispatcher that dies holding leases only delays those deliveries until the leases expire.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from datetime import datetime

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


def _secrets(claimed: outbox.Claimed, now: datetime) -> list[str]:
    out = [decrypt(claimed.secret_encrypted)]
    expires = claimed.previous_secret_expires_at
    if claimed.previous_secret_encrypted and expires is not None and expires > now:
        out.append(decrypt(claimed.previous_secret_encrypted))
    return out


def send_one(sender: WebhookSender, claimed: outbox.Claimed) -> outbox.Outcome:
    """One attempt: signed afresh (this attempt's timestamp, the delivery's id), never raising."""
    now = db.utcnow()
    try:
        body = claimed.payload.encode()
        headers = {
            **decrypt_headers(claimed.headers_encrypted),
            **signed_headers(_secrets(claimed, now), claimed.delivery_id, int(time.time()), body),
        }
        result = sender.send(claimed.url, body, headers)
    except Exception as e:  # a secret that no longer decrypts (Fernet key rotated away), ...
        return outbox.Outcome(claimed, now, None, f"not sent: {type(e).__name__}: {e}"[:1000], 0.0)
    return outbox.Outcome(claimed, now, result.response_status, result.error, result.duration_ms)


class Dispatcher:
    def __init__(
        self,
        sender: WebhookSender | None = None,
        *,
        concurrency: int | None = None,
        poll_seconds: float | None = None,
        lease_seconds: float | None = None,
        owner: str | None = None,
    ) -> None:
        from airflow_platform import config

        self.sender = sender or WebhookSender()
        self.concurrency = concurrency or config.get_int("webhook_concurrency")
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else float(config.get("webhook_poll_seconds"))
        )
        self.lease_seconds = lease_seconds or float(config.get_int("webhook_lease_seconds"))
        self.owner = owner or outbox.owner_name()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="platform-webhook"
        )
        self._in_flight: dict[concurrent.futures.Future[outbox.Outcome], outbox.Claimed] = {}
        self._last_collect = 0.0

    # --- one step --------------------------------------------------------------------------------

    def _collect_if_due(self, force: bool = False) -> None:
        if force or time.monotonic() - self._last_collect >= self.poll_seconds:
            self._last_collect = time.monotonic()
            collector.collect()

    def _claim(self) -> int:
        # Refill in chunks when the pool runs low: one claim and one completion transaction cover
        # many deliveries (SQLite commits cost milliseconds). A claimed delivery waits at most for
        # the ones ahead of it (3 x timeout / concurrency rounds), well within the default lease.
        if len(self._in_flight) > self.concurrency:
            return 0
        room = 3 * self.concurrency - len(self._in_flight)
        claimed = outbox.claim(self.owner, room, self.lease_seconds)
        for c in claimed:
            self._in_flight[self._pool.submit(send_one, self.sender, c)] = c
        return len(claimed)

    def _finish(self, timeout: float) -> int:
        """Record what has finished: wait for a first answer (up to ``timeout``), then a moment
        longer for the answers right behind it, and write them all in one transaction."""
        if not self._in_flight:
            return 0
        done, pending = concurrent.futures.wait(
            list(self._in_flight), timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        if done and pending:
            more, _ = concurrent.futures.wait(pending, timeout=_GATHER_SECONDS)
            done |= more
        outcomes = [f.result() for f in done]
        for f in done:
            del self._in_flight[f]
        outbox.complete(outcomes)
        return len(outcomes)

    def run_once(self) -> int:
        """One full pass: collect, then send every due delivery (and wait for them). Answers how many
        attempts were made."""
        self._collect_if_due(force=True)
        attempts = 0
        while True:
            self._claim()
            if not self._in_flight:
                return attempts
            attempts += self._finish(timeout=3600)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set; then finishes (records) what is in flight and returns."""
        backoff = _ERROR_BACKOFF[0]
        while not stop.is_set():
            try:
                self._collect_if_due()
                self._claim()
                if self._in_flight:
                    # Wake up on the first answer, or when it is time to collect again.
                    self._finish(timeout=self.poll_seconds)
                else:
                    stop.wait(self.poll_seconds)
                backoff = _ERROR_BACKOFF[0]
            except Exception:
                log.exception("Webhook dispatcher pass failed; retrying in %.0f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, _ERROR_BACKOFF[1])
        self.drain()

    def drain(self) -> None:
        """Record the attempts in flight (a clean stop leaves nothing to the lease expiry)."""
        try:
            while self._in_flight:
                self._finish(timeout=self.sender.timeout + 5)
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
