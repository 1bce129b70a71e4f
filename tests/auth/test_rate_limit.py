"""Rate limiting: classification, exact budgets, headers and 429s, configuration, and Redis.

Memory tests need nothing. Redis tests use the real server named by ``PLATFORM_TEST_REDIS_URL``
(database 0), each under its own key prefix, and delete their keys afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from airflow_platform.auth import rate_limit
from airflow_platform.auth.rate_limit import RateDecision, RateLimiter, RequestClass, classify, get_limiter
from airflow_platform.exceptions import RateLimitError
from tests import harness

REDIS_URL = os.environ.get("PLATFORM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_URL = "redis://127.0.0.1:1/0"


def uniform(limit: str) -> dict[RequestClass, str]:
    return dict.fromkeys(RequestClass, limit)


@pytest.fixture
def prefix() -> str:
    return f"test-rl-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        harness.missing_service(
            "Redis", f"{REDIS_URL}: {exc}; set PLATFORM_TEST_REDIS_URL or run scripts/services.sh start"
        )
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str, prefix: str) -> Iterator[str]:
    """A key prefix nobody else uses, and no keys left behind under it."""
    import redis

    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*/{prefix}/*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def fresh_singleton(monkeypatch: pytest.MonkeyPatch) -> None:
    """get_limiter() starts from nothing, and the test's limiter does not outlive it."""
    monkeypatch.setattr(rate_limit._Singleton, "current", None)


# --- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/analytics/query", RequestClass.QUERY),
        ("post", "/api/v1/analytics/query/", RequestClass.QUERY),
        ("POST", "/api/v1/analytics/saved-queries/42/execute", RequestClass.QUERY),
        ("POST", "/api/v1/analytics/saved-queries/daily-sales/execute?x=1", RequestClass.QUERY),
        ("GET", "/api/v1/analytics/query", RequestClass.GET),
        ("GET", "/api/v1/analytics/saved-queries/42/execute", RequestClass.GET),
        ("POST", "/api/v1/analytics/saved-queries/42/execute/more", RequestClass.WRITE),
        ("POST", "/api/v1/platform/connections/import", RequestClass.BULK),
        ("GET", "/api/v1/platform/connections/export", RequestClass.BULK),
        ("GET", "/api/v1/platform/connections/export?format=yaml", RequestClass.BULK),
        ("POST", "/api/v1/platform/variables/bulk", RequestClass.BULK),
        ("PATCH", "/api/v1/platform/bulk/variables", RequestClass.BULK),
        ("DELETE", "/api/v1/platform/connections/bulk", RequestClass.BULK),
        ("DELETE", "/api/v1/platform/connections/pg", RequestClass.DELETE),
        ("POST", "/api/v1/platform/connections", RequestClass.WRITE),
        ("PUT", "/api/v1/platform/connections/pg", RequestClass.WRITE),
        ("PATCH", "/api/v1/platform/connections/pg", RequestClass.WRITE),
        ("GET", "/api/v1/platform/connections", RequestClass.GET),
        ("HEAD", "/api/v1/platform/connections", RequestClass.GET),
        ("OPTIONS", "/api/v1/platform/connections", RequestClass.GET),
        ("TRACE", "/api/v1/platform/connections", RequestClass.GET),
        ("GET", "/api/v1/platform/importers", RequestClass.GET),
        ("GET", "/", RequestClass.GET),
    ],
)
def test_classify(method: str, path: str, expected: RequestClass) -> None:
    assert classify(method, path) is expected


# --- memory storage ---------------------------------------------------------------------------


def test_allows_exactly_the_limit_then_refuses_with_headers() -> None:
    limiter = RateLimiter("memory://", uniform("5/hour"), key_prefix="exact")
    decisions = [limiter.hit("key_abc123", RequestClass.WRITE) for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    assert all(d.retry_after is None and "Retry-After" not in d.headers() for d in decisions)

    refused = limiter.hit("key_abc123", RequestClass.WRITE)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after is not None and 1 <= refused.retry_after <= 3600
    headers = refused.headers()
    assert headers["Retry-After"] == str(refused.retry_after)
    assert headers["X-RateLimit-Limit"] == "5"
    assert headers["X-RateLimit-Remaining"] == "0"
    # Refused requests are not counted: the budget stays at exactly 5, and it stays refused.
    assert not limiter.hit("key_abc123", RequestClass.WRITE).allowed


def test_budgets_are_per_identity_and_per_class() -> None:
    limiter = RateLimiter("memory://", uniform("2/hour"), key_prefix="independent")
    for _ in range(2):
        assert limiter.hit("key_one", RequestClass.DELETE).allowed
    assert not limiter.hit("key_one", RequestClass.DELETE).allowed
    assert limiter.hit("key_two", RequestClass.DELETE).allowed
    assert limiter.hit("ip:127.0.0.1", RequestClass.DELETE).allowed
    for klass in (RequestClass.GET, RequestClass.WRITE, RequestClass.QUERY, RequestClass.BULK):
        assert limiter.hit("key_one", klass).allowed, klass


def test_each_class_gets_its_own_amount() -> None:
    amounts = {
        RequestClass.GET: "7/minute",
        RequestClass.WRITE: "5/minute",
        RequestClass.DELETE: "3/minute",
        RequestClass.QUERY: "2/hour",
        RequestClass.BULK: "1/minute",
    }
    limiter = RateLimiter("memory://", amounts, key_prefix="amounts")
    for klass, text in amounts.items():
        expected = int(text.split("/")[0])
        allowed = sum(limiter.hit("alice", klass).allowed for _ in range(expected + 3))
        assert allowed == expected, klass


def test_header_values_are_plausible() -> None:
    limiter = RateLimiter("memory://", uniform("10/minute"), key_prefix="headers")
    before = time.time()
    first = limiter.hit("alice", RequestClass.GET)
    headers = first.headers()
    assert set(headers) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
    assert headers["X-RateLimit-Limit"] == "10"
    assert headers["X-RateLimit-Remaining"] == "9"
    # Moving window: the first request frees its slot one window later.
    assert before + 59 <= first.reset <= time.time() + 61
    for _ in range(9):
        last = limiter.hit("alice", RequestClass.GET)
    assert last.allowed and last.remaining == 0
    refused = limiter.hit("alice", RequestClass.GET)
    assert not refused.allowed
    assert refused.reset == first.reset
    assert refused.retry_after is not None
    assert abs((time.time() + refused.retry_after) - refused.reset) <= 2


def test_error_envelope() -> None:
    limiter = RateLimiter("memory://", uniform("1/minute"), key_prefix="envelope")
    limiter.hit("key_abc123", RequestClass.WRITE)
    refused = limiter.hit("key_abc123", RequestClass.WRITE)
    error = refused.error()
    assert isinstance(error, RateLimitError)
    assert error.status == 429
    assert error.code == "RATE_LIMIT_EXCEEDED"
    assert error.retry_after == refused.retry_after
    assert error.message == (
        f"Rate limit of 1 per 1 minute for write requests exceeded; retry in {refused.retry_after} s"
    )
    assert error.details == {
        "limit": 1,
        "window": "1 minute",
        "class": "write",
        "retry_after": refused.retry_after,
    }
    assert error.headers == refused.headers()
    assert error.headers["Retry-After"] == str(refused.retry_after)


def test_error_of_an_allowed_decision_still_names_a_wait() -> None:
    decision = RateDecision(
        allowed=True,
        limit=3,
        remaining=2,
        reset=int(time.time()) + 10,
        retry_after=None,
        request_class=RequestClass.GET,
        window="1 minute",
    )
    error = decision.error()
    assert error.retry_after is not None and error.retry_after >= 1
    assert "Retry-After" not in error.headers


def test_window_wording_is_plural_for_multiples() -> None:
    limiter = RateLimiter("memory://", uniform("1/10 seconds"), key_prefix="plural")
    limiter.hit("bob", RequestClass.GET)
    refused = limiter.hit("bob", RequestClass.GET)
    assert refused.window == "10 seconds"
    assert refused.retry_after is not None and 1 <= refused.retry_after <= 10
    assert "1 per 10 seconds" in refused.error().message


def test_memory_state_is_healthy() -> None:
    assert RateLimiter("memory://", uniform("1/minute")).state() == {"storage": "memory", "status": "healthy"}


def test_threads_share_one_exact_budget() -> None:
    limiter = RateLimiter("memory://", uniform("100/hour"), key_prefix="threads")
    allowed: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        allowed.append(sum(limiter.hit("key_shared", RequestClass.GET).allowed for _ in range(40)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(allowed) == 100


def test_memory_hits_are_cheap() -> None:
    """A loose guard against accidental per-hit parsing or I/O; the real figure is ~10 µs."""
    limiter = RateLimiter("memory://", uniform("1000/minute"), key_prefix="cheap")
    started = time.perf_counter()
    for i in range(2000):
        limiter.hit(f"key_{i % 50}", RequestClass.GET)
    assert time.perf_counter() - started < 2.0


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["lots", "", "100", "100/fortnight", "0/minute", "10/second;100/minute"])
def test_invalid_limit_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate_limit_bulk"):
        RateLimiter("memory://", {**uniform("10/minute"), RequestClass.BULK: text})


def test_missing_class_is_a_value_error() -> None:
    amounts = uniform("10/minute")
    del amounts[RequestClass.QUERY]
    with pytest.raises(ValueError, match="query"):
        RateLimiter("memory://", amounts)


def test_unknown_storage_is_a_value_error_without_the_password() -> None:
    with pytest.raises(ValueError, match="rate_limit_storage_uri") as info:
        RateLimiter("nosuch://user:s3cret@host:1", uniform("10/minute"))
    assert "s3cret" not in str(info.value)


@pytest.mark.usefixtures("fresh_singleton")
def test_get_limiter_honours_enabled_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_ENABLED", "False")
    assert get_limiter() is None
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_ENABLED", "True")
    limiter = get_limiter()
    assert isinstance(limiter, RateLimiter)
    assert get_limiter() is limiter


@pytest.mark.usefixtures("fresh_singleton")
def test_get_limiter_defaults_and_rebuilds_on_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_ENABLED", "True")
    for option in rate_limit._OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__PLATFORM__{option.upper()}", raising=False)
    default = get_limiter()
    assert default is not None
    assert default.state() == {"storage": "memory", "status": "healthy"}
    assert default.hit("key_defaults", RequestClass.BULK).limit == 10
    assert default.hit("key_defaults", RequestClass.GET).limit == 1000

    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_WRITE", "2/minute")
    rebuilt = get_limiter()
    assert rebuilt is not None and rebuilt is not default
    assert get_limiter() is rebuilt
    assert [rebuilt.hit("key_w", RequestClass.WRITE).allowed for _ in range(3)] == [True, True, False]

    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_ENABLED", "False")
    assert get_limiter() is None


@pytest.mark.usefixtures("fresh_singleton")
def test_get_limiter_names_the_bad_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_ENABLED", "True")
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_DELETE", "fifty a minute")
    with pytest.raises(ValueError, match=r"\[platform\] rate_limit_delete"):
        get_limiter()
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_DELETE", "50/minute")
    monkeypatch.setenv("AIRFLOW__PLATFORM__RATE_LIMIT_STORAGE_URI", "carrier-pigeon://coop")
    with pytest.raises(ValueError, match=r"\[platform\] rate_limit_storage_uri"):
        get_limiter()


# --- Redis ------------------------------------------------------------------------------------

TWO_PROCESS_SCRIPT = """
import json, sys
from airflow_platform.auth.rate_limit import RateLimiter, RequestClass

uri, prefix, hits = sys.argv[1], sys.argv[2], int(sys.argv[3])
limiter = RateLimiter(uri, dict.fromkeys(RequestClass, "15/hour"), key_prefix=prefix)
print("ready", flush=True)
sys.stdin.readline()  # both processes start hitting together, once both are ready
allowed = sum(limiter.hit("key_shared", RequestClass.WRITE).allowed for _ in range(hits))
print(json.dumps({"allowed": allowed, "state": limiter.state()}), flush=True)
"""


@pytest.mark.redis
def test_redis_counts_and_reports_healthy(redis_url: str, redis_prefix: str) -> None:
    limiter = RateLimiter(redis_url, uniform("3/hour"), key_prefix=redis_prefix)
    decisions = [limiter.hit("key_abc123", RequestClass.QUERY) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after is not None and decisions[-1].retry_after >= 1
    assert limiter.state() == {"storage": "redis", "status": "healthy"}
    # A second limiter on the same store and prefix (another thread, another worker) sees the same budget.
    again = RateLimiter(redis_url, uniform("3/hour"), key_prefix=redis_prefix)
    assert not again.hit("key_abc123", RequestClass.QUERY).allowed


@pytest.mark.redis
def test_two_processes_share_one_budget(redis_url: str, redis_prefix: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(harness.REPO / "src"), str(harness.REPO)])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESS_SCRIPT, redis_url, redis_prefix, "12"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        results = []
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert all(r["state"] == {"storage": "redis", "status": "healthy"} for r in results), results
    assert sum(r["allowed"] for r in results) == 15, results


def test_redis_down_falls_back_to_memory_quickly(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=rate_limit.__name__)
    started = time.monotonic()
    limiter = RateLimiter(DOWN_URL, uniform("3/minute"), key_prefix=prefix)
    decisions = [limiter.hit("key_abc123", RequestClass.WRITE) for _ in range(5)]
    assert time.monotonic() - started < 5
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert decisions[-1].headers()["Retry-After"] == str(decisions[-1].retry_after)
    assert limiter.state() == {
        "storage": "redis",
        "status": "degraded",
        "detail": "Redis unreachable; counting per process",
    }
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "key_abc123" not in caplog.text


def test_redis_password_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=rate_limit.__name__)
    limiter = RateLimiter("redis://user:s3cret@127.0.0.1:1/0", uniform("3/minute"))
    assert limiter.hit("alice", RequestClass.GET).allowed
    assert "127.0.0.1:1" in caplog.text
    assert "s3cret" not in caplog.text


def test_redis_down_probes_again_after_the_cool_down(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=rate_limit.__name__)
    limiter = RateLimiter(DOWN_URL, uniform("100/minute"), key_prefix=prefix, fallback_cooldown=0.3)
    for _ in range(5):
        limiter.hit("alice", RequestClass.GET)
    assert len(caplog.records) == 1
    time.sleep(0.4)
    limiter.hit("alice", RequestClass.GET)  # the probe fails again: one more warning, no more
    limiter.hit("alice", RequestClass.GET)
    assert len(caplog.records) == 2
    assert limiter.state()["status"] == "degraded"


@pytest.mark.redis
def test_redis_outage_then_recovery(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    limiter = RateLimiter(redis_url, uniform("50/hour"), key_prefix=redis_prefix, fallback_cooldown=0.3)
    assert limiter.hit("alice", RequestClass.GET).allowed
    storage = limiter._shared.storage  # type: ignore[union-attr]
    calls: list[int] = []

    def refuse(*args: object, **kwargs: object) -> bool:
        calls.append(1)
        raise redis.ConnectionError("simulated outage")

    monkeypatch.setattr(storage, "acquire_entry", refuse)
    for _ in range(5):
        assert limiter.hit("alice", RequestClass.GET).allowed
    assert calls == [1]  # during the cool-down Redis is left alone
    assert limiter.state()["status"] == "degraded"

    monkeypatch.undo()
    time.sleep(0.4)
    shared = limiter.hit("alice", RequestClass.GET)
    assert limiter.state() == {"storage": "redis", "status": "healthy"}
    # Back on Redis, whose budget never saw the five requests counted in memory.
    assert shared.remaining == 48


def test_the_memory_store_sweeps_once_a_second_not_after_every_hit() -> None:
    """limits' memory store started a sweeper thread 10 ms after hits (a new thread every 10 ms
    under load); ours waits a second, and still sweeps what expired."""
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    from airflow_platform.auth.rate_limit import SweepingMemoryStorage

    storage = SweepingMemoryStorage()
    strategy = MovingWindowRateLimiter(storage)
    item = parse("1000/second")
    storage.timer.join()  # the first sweep, which limits schedules on creation
    started = threading.active_count()
    for _ in range(200):
        assert strategy.hit(item, "sweep")
    assert storage.timer.interval == SweepingMemoryStorage.SWEEP_EVERY_S  # the override is in use
    assert threading.active_count() <= started + 1
    assert sum(map(len, storage.events.values())) == 200  # the hits are held...
    time.sleep(1.1)  # ...all expire...
    assert strategy.hit(item, "sweep")
    storage.timer.join(5)
    assert sum(map(len, storage.events.values())) <= 1  # ...and the next sweep drops them
