"""The dispatcher and the outbox over the session's real metadata DB and a real loopback receiver:
retries by the retry policy, leases (expiry, takeover, two dispatchers at once), redelivery, secret
rotation, disabled webhooks, and attempts that would outlive their lease.

Each test has an outbox of its own: the platform's tables in a fresh SQLite file, through an engine
configured the way Airflow configures its own. Not the session's metadata DB, because the session's
Airflow server (started by earlier tests) runs its background dispatcher there, every half second: it
would claim these tests' deliveries too (a third dispatcher the counts here do not know), and it reads
secrets with its own Fernet key, which need not be the key this process encrypted them with.
Deliveries are queued straight into the outbox (the collector has its own tests in test_collector.py)
and the dispatchers here do not collect. "Time passing" is written into the rows (``next_attempt_at``,
``lease_until``, ``previous_secret_expires_at``): no test waits on a clock.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.webhooks import WebhookCreate, WebhookUpdate
from airflow_platform.services.webhooks import WebhookService
from airflow_platform.storage import db, tables
from airflow_platform.storage.tables import webhook_attempts, webhook_deliveries, webhooks
from airflow_platform.storage.webhooks import new_delivery_id
from airflow_platform.webhooks import outbox, payloads
from airflow_platform.webhooks.dispatcher import Dispatcher, send_one
from airflow_platform.webhooks.sender import WebhookSender
from airflow_platform.webhooks.url_guard import AllowList
from tests.webhooks.receivers import Receiver, RecordedRequest

ADMIN = Principal(username="admin", user=None, tenant_id=None, scopes=frozenset({"*"}), via="api_key",
                  is_platform_admin=True)  # fmt: skip


def service() -> WebhookService:
    return WebhookService(tenant_exists=lambda t: True, check_url=lambda url: None)


@pytest.fixture
def clean(airflow_home: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty outbox that only this test's dispatchers see (see the module's docstring)."""
    from airflow import settings
    from airflow.utils.orm_event_handlers import setup_event_handlers

    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'outbox.db'}",
        **settings.prepare_engine_args(),
        connect_args={"check_same_thread": False},
    )
    setup_event_handlers(engine)  # foreign keys on (deliveries go with their webhook), WAL
    tables.metadata.create_all(engine)
    monkeypatch.setattr(db, "engine", lambda: engine)
    yield
    engine.dispose()


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    with WebhookSender(timeout=10, allowed=AllowList.parse("127.0.0.1")) as s:
        yield s


def make(url: str, **extra: Any) -> tuple[str, str]:
    """A webhook on dag.success; (webhook_id, secret)."""
    made = service().create(ADMIN, WebhookCreate(name="t", url=url, events=["dag.success"], **extra))
    return made.webhook_id, made.secret


def queue(webhook_id: str, count: int = 1) -> list[str]:
    """``count`` pending deliveries due now, as the collector queues them; their ids."""
    now = db.utcnow()
    rows = []
    for _ in range(count):
        run_id = f"run_{uuid.uuid4().hex[:8]}"
        data = payloads.run_data(
            dag_id="d", run_id=run_id, logical_date=now, start_date=now, end_date=now, state="success",
            conf={}, external_trigger=True, run_type="manual",
        )  # fmt: skip
        rows.append({
            "id": new_delivery_id(), "webhook_id": webhook_id, "event": "dag.success",
            "event_key": f"dag.success:d:{run_id}", "event_at": now,
            "payload": payloads.body("dag.success", now, data), "status": "pending", "attempts": 0,
            "attempt_base": 0, "next_attempt_at": now, "created_at": now,
        })  # fmt: skip
    with db.transaction() as conn:
        outbox.enqueue(conn, rows)
    return [r["id"] for r in rows]


def delivery(delivery_id: str) -> Any:
    with db.reading() as conn:
        return conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)).one()


def attempt_log(delivery_id: str) -> list[Any]:
    with db.reading() as conn:
        return list(
            conn.execute(
                sa.select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == delivery_id)
                .order_by(webhook_attempts.c.attempt)
            )
        )


def set_delivery(delivery_id: str, **values: Any) -> None:
    with db.transaction() as conn:
        conn.execute(
            webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values)
        )


def dispatcher(sender: WebhookSender, owner: str = "test", **extra: Any) -> Dispatcher:
    return Dispatcher(sender, concurrency=4, poll_seconds=0.05, lease_seconds=60, owner=owner, collect=False,
                      **extra)  # fmt: skip


def statuses(answers: list[int]) -> Any:
    """A responder answering ``answers`` in order, then the last one forever."""
    lock = threading.Lock()
    left = list(answers)

    def respond(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        with lock:
            status = left.pop(0) if len(left) > 1 else left[0]
        return status, {}, b"{}"

    return respond


def seconds(a: datetime | None, b: datetime | None) -> float:
    assert a is not None and b is not None
    return (db.as_utc(a) - db.as_utc(b)).total_seconds()  # type: ignore[operator]


def test_retries_by_backoff_then_succeeds_under_one_id(clean: None, sender: WebhookSender) -> None:
    with Receiver(responder=statuses([500, 503, 200])) as rx:
        hook, secret = make(rx.url("/h"), retry_policy={"max_attempts": 3, "backoff_seconds": [10, 30]})
        [msg] = queue(hook)
        d = dispatcher(sender)

        assert d.run_once() == 1
        row = delivery(msg)
        assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
        assert row.error == "HTTP 500 Internal Server Error"
        assert seconds(row.next_attempt_at, row.last_attempt_at) == 10
        assert d.run_once() == 0, "not due yet: nothing is sent before next_attempt_at"

        set_delivery(msg, next_attempt_at=db.utcnow())  # ten seconds later
        assert d.run_once() == 1
        row = delivery(msg)
        assert (row.status, row.attempts, row.response_status) == ("pending", 2, 503)
        assert seconds(row.next_attempt_at, row.last_attempt_at) == 30

        set_delivery(msg, next_attempt_at=db.utcnow())
        assert d.run_once() == 1
        row = delivery(msg)
        assert (row.status, row.attempts, row.response_status, row.error) == ("succeeded", 3, 200, None)
        assert row.next_attempt_at is None and row.delivered_at is not None
        assert row.lease_owner is None and row.lease_until is None
        assert [(a.attempt, a.response_status) for a in attempt_log(msg)] == [(1, 500), (2, 503), (3, 200)]
        d.drain()

    assert [r.headers["webhook-id"] for r in rx.requests] == [msg, msg, msg]
    bodies = {r.body for r in rx.requests}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    for r in rx.requests:
        Verifier(secret).verify(r.body, r.headers)
    assert len({r.headers["webhook-timestamp"] for r in rx.requests}) >= 1


def test_fails_after_max_attempts_with_the_last_backoff_repeated(clean: None, sender: WebhookSender) -> None:
    with Receiver(status=500) as rx:
        hook, _ = make(rx.url("/h"), retry_policy={"max_attempts": 4, "backoff_seconds": [5, 7]})
        [msg] = queue(hook)
        d = dispatcher(sender)
        waits = []
        for _ in range(3):
            assert d.run_once() == 1
            row = delivery(msg)
            assert row.status == "pending"
            waits.append(seconds(row.next_attempt_at, row.last_attempt_at))
            set_delivery(msg, next_attempt_at=db.utcnow())
        assert waits == [5, 7, 7]
        assert d.run_once() == 1
        row = delivery(msg)
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 4, None)
        assert d.run_once() == 0, "a failed delivery is not sent again without a redelivery"
        d.drain()
    assert len(rx.requests) == 4


def test_redelivery_renews_the_budget_and_keeps_the_id(clean: None, sender: WebhookSender) -> None:
    with Receiver(responder=statuses([500, 200])) as rx:
        hook, secret = make(rx.url("/h"), retry_policy={"max_attempts": 1, "backoff_seconds": [10]})
        [msg] = queue(hook)
        d = dispatcher(sender)
        assert d.run_once() == 1
        assert (delivery(msg).status, delivery(msg).attempts) == ("failed", 1)

        redelivered = service().redeliver(ADMIN, hook, msg)
        assert (redelivered.delivery_id, redelivered.status) == (msg, "pending")
        row = delivery(msg)
        assert (row.attempt_base, row.attempts) == (1, 1)
        assert d.run_once() == 1, "a fresh budget: max_attempts 1 allows one more attempt"
        row = delivery(msg)
        assert (row.status, row.attempts, row.response_status) == ("succeeded", 2, 200)
        assert [a.attempt for a in attempt_log(msg)] == [1, 2]
        d.drain()
    assert [r.headers["webhook-id"] for r in rx.requests] == [msg, msg]
    assert rx.requests[0].body == rx.requests[1].body
    Verifier(secret).verify(rx.requests[1].body, rx.requests[1].headers)


def test_an_expired_lease_is_taken_over_and_the_late_answer_changes_nothing(
    clean: None, sender: WebhookSender
) -> None:
    with Receiver() as rx:
        hook, _ = make(rx.url("/h"))
        [msg] = queue(hook)
        # Dispatcher A claims the delivery, then hangs (or dies) without an answer.
        [held] = outbox.claim("A", 10, lease_seconds=60)
        assert held.delivery_id == msg and delivery(msg).lease_owner == held.token
        b = dispatcher(sender, owner="B")
        assert b.run_once() == 0, "the lease of A is not over: B leaves the delivery alone"
        assert rx.requests == []

        set_delivery(msg, lease_until=db.utcnow() - timedelta(seconds=1))  # a minute later
        assert b.run_once() == 1
        row = delivery(msg)
        assert (row.status, row.attempts) == ("succeeded", 1)
        [request] = rx.requests
        assert request.headers["webhook-id"] == msg

        # A wakes up and reports a failure of its (never finished) attempt: logged, state kept.
        outbox.complete([outbox.Outcome(held, db.utcnow(), 500, "HTTP 500", 1.0)])
        row = delivery(msg)
        assert (row.status, row.response_status, row.attempts) == ("succeeded", 200, 1)
        assert len(attempt_log(msg)) == 2
        b.drain()


def test_an_attempt_that_could_outlive_its_lease_is_released_not_sent(
    clean: None, sender: WebhookSender
) -> None:
    with Receiver() as rx:
        hook, _ = make(rx.url("/h"))
        [msg] = queue(hook)
        # Claimed with 5 s of lease: the sender may take 10 s, so the attempt must not start.
        [held] = outbox.claim("A", 10, lease_seconds=5)
        outcome = send_one(sender, held)
        assert outcome.released and rx.requests == []
        outbox.complete([outcome])
        row = delivery(msg)
        assert (row.status, row.attempts, row.lease_owner, row.lease_until) == ("pending", 0, None, None)
        assert attempt_log(msg) == []
        assert dispatcher(sender).run_once() == 1
        assert [r.headers["webhook-id"] for r in rx.requests] == [msg]


def test_released_claims_use_none_of_the_retry_budget(clean: None, sender: WebhookSender) -> None:
    """Claims handed back unsent (their attempts would have started too close to the lease's end, as
    when a claim waits in the pool's queue on a loaded machine) count nowhere: not in ``attempts``,
    which drives max_attempts and the backoff, not in the attempt log, not in the dispatcher's count."""

    class Late(Dispatcher):
        """Its first claims' attempts would all start too late: it needs more lease than there is."""

        late_claims = 3

        @property
        def min_lease_left(self) -> float:
            if self.late_claims:
                self.late_claims -= 1
                return self.lease_seconds + 1
            return super().min_lease_left

    with Receiver(responder=statuses([500, 200])) as rx:
        hook, _ = make(rx.url("/h"), retry_policy={"max_attempts": 2, "backoff_seconds": [10]})
        msgs = queue(hook, 5)
        d = Late(sender, concurrency=4, poll_seconds=0.05, lease_seconds=60, owner="late", collect=False)
        assert d.run_once() == 5, "three claims released everything, the fourth sent everything"
        assert d.late_claims == 0 and d.attempts == 5
        rows = {m: delivery(m) for m in msgs}
        assert Counter((r.status, r.attempts) for r in rows.values()) == {
            ("succeeded", 1): 4,
            ("pending", 1): 1,
        }
        assert all(r.lease_owner is None and r.lease_until is None for r in rows.values())
        assert sorted(a.attempt for m in msgs for a in attempt_log(m)) == [1] * 5
        [failed] = [m for m, r in rows.items() if r.status == "pending"]
        assert seconds(rows[failed].next_attempt_at, rows[failed].last_attempt_at) == 10

        d.late_claims = 2
        set_delivery(failed, next_attempt_at=db.utcnow())
        assert d.run_once() == 1, "two more releases, then its second (and last) attempt"
        row = delivery(failed)
        assert (row.status, row.attempts, row.response_status) == ("succeeded", 2, 200)
        assert [a.attempt for a in attempt_log(failed)] == [1, 2]
        d.drain()
    assert Counter(r.headers["webhook-id"] for r in rx.requests) == {**dict.fromkeys(msgs, 1), failed: 2}


def test_two_claims_at_once_never_share_a_delivery(clean: None) -> None:
    hook, _ = make("http://127.0.0.1:9/h")
    ids = set(queue(hook, 120))
    barrier = threading.Barrier(4)
    taken: dict[str, list[str]] = {}

    def claim_all(owner: str) -> None:
        barrier.wait()
        mine: list[str] = []
        while True:
            got = outbox.claim(owner, 7, lease_seconds=60)
            if not got:
                break
            mine += [c.delivery_id for c in got]
        taken[owner] = mine

    threads = [threading.Thread(target=claim_all, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    every = [i for mine in taken.values() for i in mine]
    assert sorted(every) == sorted(ids), "each delivery claimed exactly once"


def test_two_dispatchers_on_one_outbox_send_each_delivery_once(clean: None, sender: WebhookSender) -> None:
    sending: Counter[str] = Counter()
    overlaps: list[str] = []
    lock = threading.Lock()
    stop_answering = threading.Event()

    def respond(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        msg = request.headers["webhook-id"]
        with lock:
            sending[msg] += 1
            if sending[msg] > 1:
                overlaps.append(msg)
        stop_answering.wait(0.002)  # a little time in flight, so the dispatchers interleave
        with lock:
            sending[msg] -= 1
        return 200, {}, b""

    with Receiver(responder=respond) as rx:
        hook, _ = make(rx.url("/h"))
        ids = queue(hook, 300)
        stop = threading.Event()
        first, second = dispatcher(sender, owner="one"), dispatcher(sender, owner="two")
        threads = [threading.Thread(target=d.run, args=(stop,)) for d in (first, second)]
        for t in threads:
            t.start()
        try:
            rx.wait_for(len(ids), timeout=300)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)

    per_id = Counter(r.headers["webhook-id"] for r in rx.requests)
    assert set(per_id) == set(ids)
    assert max(per_id.values()) == 1, "nothing crashed: each id arrives once"
    assert overlaps == []
    assert first.attempts + second.attempts == len(ids)
    with db.reading() as conn:
        rows = list(conn.execute(sa.select(webhook_deliveries.c.status, webhook_deliveries.c.attempts)))
    assert Counter((r.status, r.attempts) for r in rows) == {("succeeded", 1): len(ids)}


def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(
    clean: None, sender: WebhookSender
) -> None:
    with Receiver() as rx:
        hook, old = make(rx.url("/h"))
        new = service().rotate_secret(ADMIN, hook).secret
        d = dispatcher(sender)
        [during] = queue(hook)
        assert d.run_once() == 1
        [request] = rx.wait_for(1)
        assert request.headers["webhook-id"] == during
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        Verifier(old).verify(request.body, request.headers)
        Verifier(new).verify(request.body, request.headers)

        with db.transaction() as conn:  # the grace period is over
            conn.execute(
                webhooks.update()
                .where(webhooks.c.webhook_id == hook)
                .values(previous_secret_expires_at=db.utcnow() - timedelta(seconds=1))
            )
        [after] = queue(hook)
        assert d.run_once() == 1
        request = rx.wait_for(2)[1]
        assert request.headers["webhook-id"] == after
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        Verifier(new).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Verifier(old).verify(request.body, request.headers)
        d.drain()


def test_a_disabled_webhook_gets_nothing_until_enabled_again(clean: None, sender: WebhookSender) -> None:
    with Receiver() as rx:
        hook, _ = make(rx.url("/h"))
        msgs = queue(hook, 3)
        service().update(ADMIN, hook, WebhookUpdate(enabled=False))
        d = dispatcher(sender)
        assert d.run_once() == 0
        assert rx.requests == []
        assert {delivery(m).status for m in msgs} == {"pending"}

        service().update(ADMIN, hook, WebhookUpdate(enabled=True))
        assert d.run_once() == 3
        assert sorted(r.headers["webhook-id"] for r in rx.wait_for(3)) == sorted(msgs)
        d.drain()


def test_a_stop_records_what_was_sent_and_releases_what_was_not_started(
    clean: None, sender: WebhookSender
) -> None:
    cancelled = threading.Event()

    def respond(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        cancelled.wait(60)  # answers only once the stopping dispatcher has cancelled its queue
        return 200, {}, b""

    with Receiver(responder=respond) as rx:
        hook, _ = make(rx.url("/h"))
        msgs = queue(hook, 5)
        d = Dispatcher(sender, concurrency=1, poll_seconds=0.05, lease_seconds=60, owner="one", collect=False)
        shutdown = d._pool.shutdown

        def shutdown_then_answer(wait: bool = True, *, cancel_futures: bool = False) -> None:
            shutdown(wait=wait, cancel_futures=cancel_futures)
            cancelled.set()

        d._pool.shutdown = shutdown_then_answer  # type: ignore[method-assign]
        stop = threading.Event()
        thread = threading.Thread(target=d.run, args=(stop,))
        thread.start()
        try:
            [first] = rx.wait_for(1, timeout=120)
        finally:
            stop.set()
            thread.join(timeout=120)
        assert not thread.is_alive()

    assert [r.headers["webhook-id"] for r in rx.requests] == [first.headers["webhook-id"]]
    rows = {m: delivery(m) for m in msgs}
    sent = rows[first.headers["webhook-id"]]
    assert (sent.status, sent.attempts) == ("succeeded", 1)
    rest = [r for m, r in rows.items() if m != first.headers["webhook-id"]]
    released = {(r.status, r.attempts, r.lease_owner, r.lease_until) for r in rest}
    assert released == {("pending", 0, None, None)}
    assert d.attempts == 1
