"""Retries: 429/502/503/504 and transport errors, backoff with jitter, Retry-After honoured, and
never a second POST/PATCH that may have reached the server."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import PlatformClient
from airflow_platform.sdk.retries import RetryPolicy, retry_after_seconds
from tests.sdk.fakes import BASE, dag_v2, envelope, tenant

TENANTS = "/api/v1/platform/tenants"


def limited(retry_after: str | None = "2") -> httpx.Response:
    answer = envelope("RATE_LIMIT_EXCEEDED", "Too many requests", 429)
    if retry_after is not None:
        answer.headers["Retry-After"] = retry_after
    return answer


def test_get_retried_on_429_honouring_retry_after(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.get(f"{TENANTS}/a").mock(
        side_effect=[limited("2"), limited("0.5"), httpx.Response(200, json=tenant("a"))]
    )
    with PlatformClient(BASE, api_key="k") as client:
        assert client.tenants.get("a").tenant_id == "a"
    assert route.call_count == 3
    assert sleeps == [2.0, 0.5]
    ids = {call.request.headers["X-Request-ID"] for call in route.calls}
    assert len(ids) == 1, "one request id across retries, for support"


def test_503_without_retry_after_backs_off_exponentially(api: respx.MockRouter, sleeps: list[float]) -> None:
    unavailable = envelope("SERVICE_UNAVAILABLE", "DB down", 503)
    api.get(TENANTS).mock(side_effect=[unavailable, unavailable, unavailable])
    with (
        PlatformClient(BASE, api_key="k", max_retries=2) as client,
        pytest.raises(exc.ServiceUnavailableError),
    ):
        client.tenants.list()
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_gives_up_after_max_retries_with_the_last_error(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.get(TENANTS).mock(return_value=limited("1"))
    with (
        PlatformClient(BASE, api_key="k", max_retries=3) as client,
        pytest.raises(exc.RateLimitError) as caught,
    ):
        client.tenants.list()
    assert route.call_count == 4 and sleeps == [1.0, 1.0, 1.0]
    assert caught.value.retry_after == 1.0


def test_retry_after_longer_than_a_minute_is_left_to_the_caller(
    api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.get(TENANTS).mock(return_value=limited("3600"))
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.RateLimitError) as caught:
        client.tenants.list()
    assert route.call_count == 1 and sleeps == []
    assert caught.value.retry_after == 3600


@pytest.mark.parametrize("answer", [limited("1"), envelope("SERVICE_UNAVAILABLE", "busy", 503)])
def test_post_is_never_retried_once_sent(
    api: respx.MockRouter, sleeps: list[float], answer: httpx.Response
) -> None:
    route = api.post(TENANTS).mock(return_value=answer)
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.PlatformError):
        client.tenants.create("team-x", "Team X")
    assert route.call_count == 1 and sleeps == []


def test_post_not_retried_after_a_read_timeout(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.post(TENANTS).mock(side_effect=httpx.ReadTimeout("no answer"))
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.APIConnectionError):
        client.tenants.create("team-x", "Team X")
    assert route.call_count == 1


def test_post_retried_when_the_connection_failed_before_sending(
    api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post(TENANTS).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=tenant("team-x"))]
    )
    with PlatformClient(BASE, api_key="k") as client:
        assert client.tenants.create("team-x", "Team X").tenant_id == "team-x"
    assert route.call_count == 2 and len(sleeps) == 1


def test_patch_not_retried_but_pause_is(airflow3: respx.MockRouter, sleeps: list[float]) -> None:
    busy = envelope("SERVICE_UNAVAILABLE", "busy", 503)
    tenant_route = airflow3.patch(f"{TENANTS}/a").mock(return_value=busy)
    pause_route = airflow3.patch("/api/v2/dags/d").mock(
        side_effect=[busy, httpx.Response(200, json=dag_v2("d", is_paused=True))]
    )
    with PlatformClient(BASE, api_key="k") as client:
        with pytest.raises(exc.ServiceUnavailableError):
            client.tenants.update("a", display_name="A")
        assert client.dags.pause("d").is_paused is True
    assert tenant_route.call_count == 1
    assert pause_route.call_count == 2, "setting is_paused is idempotent, so it is retried"


def test_get_retried_on_read_errors(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.get(TENANTS).mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"tenants": [], "total_entries": 0})]
    )
    with PlatformClient(BASE, api_key="k") as client:
        assert client.tenants.list().total_entries == 0
    assert route.call_count == 2


def test_no_retries_when_max_retries_is_zero(api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.get(TENANTS).mock(return_value=limited("1"))
    with PlatformClient(BASE, api_key="k", max_retries=0) as client, pytest.raises(exc.RateLimitError):
        client.tenants.list()
    assert route.call_count == 1


def test_retry_after_formats() -> None:
    now = time.time()
    assert retry_after_seconds({"retry-after": "7"}) == 7
    http_date = formatdate(now + 30, usegmt=True)
    assert 28 <= (retry_after_seconds({"retry-after": http_date}, now=now) or 0) <= 31
    assert retry_after_seconds({"x-ratelimit-reset": str(now + 12)}, now=now) == pytest.approx(12)
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        waits = {policy.backoff(attempt) for _ in range(50)}
        assert all(cap / 2 <= w <= cap for w in waits)
        assert len(waits) > 1, "jitter"
