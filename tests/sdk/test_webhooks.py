"""``client.webhooks`` against respx: the wire it speaks, its client-side checks, paging and errors."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.schemas.webhooks import RetryPolicy, WebhookFilters
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests.sdk.fakes import BASE, envelope

HOOKS = "/api/v1/platform/webhooks"
WH = "wh_0123456789abcdef"
MSG = "msg_01JD7S3Q0W8X5M2N4P6R8T0V2Y"
STAMP = "2024-01-15T10:30:00Z"


def webhook(webhook_id: str = WH, **extra: Any) -> dict[str, Any]:
    """A webhook object as the server answers it (header values masked)."""
    return {
        "webhook_id": webhook_id,
        "name": "DAG Success Notifier",
        "description": None,
        "url": "https://your-app.com/webhooks/airflow",
        "events": ["dag.success", "dag.failure", "task.failure"],
        "filters": {"dag_ids": ["bronze_to_silver_pipeline"], "tags": ["production"]},
        "headers": {"X-Webhook-Secret": "***"},
        "retry_policy": {"max_attempts": 3, "backoff_seconds": [10, 30, 60]},
        "enabled": True,
        "tenant_id": "team-a",
        "created_by": "alice",
        "created_at": STAMP,
        "updated_at": STAMP,
        "secret_rotated_at": None,
        **extra,
    }


def delivery(delivery_id: str = MSG, **extra: Any) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "webhook_id": WH,
        "event": "dag.success",
        "status": "succeeded",
        "attempts": 1,
        "created_at": STAMP,
        "last_attempt_at": STAMP,
        "next_attempt_at": None,
        "delivered_at": STAMP,
        "response_status": 204,
        "error": None,
        "duration_ms": 12.5,
        **extra,
    }


def delivery_detail(**extra: Any) -> dict[str, Any]:
    payload = {"event": "dag.success", "timestamp": STAMP, "data": {"dag_id": "etl", "state": "success"}}
    attempt = {"attempt": 1, "at": STAMP, "response_status": 204, "error": None, "duration_ms": 12.5}
    return {**delivery(**extra), "payload": payload, "attempt_log": [attempt]}


def rotated() -> dict[str, Any]:
    return {"webhook_id": WH, "secret": "whsec_new", "previous_secret_expires_at": "2024-01-16T10:30:00Z"}


def paged_total(items: list[dict[str, Any]], key: str) -> Any:
    """Pages ``items`` by ``limit``/``offset`` with the webhooks API's ``total``/``limit``/``offset``."""

    def answer(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", 100))
        offset = int(request.url.params.get("offset", 0))
        body = {key: items[offset : offset + limit], "total": len(items), "limit": limit, "offset": offset}
        return httpx.Response(200, json=body)

    return answer


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def client() -> PlatformClient:
    return PlatformClient(BASE, api_key="k")


def test_create_as_the_reference_configures_it(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.post(HOOKS).respond(201, json={**webhook(), "secret": "whsec_abc"})
    created = client.webhooks.create(
        name="DAG Success Notifier",
        url="https://your-app.com/webhooks/airflow",
        events=["dag.success", "dag.failure", "task.failure"],
        filters={"dag_ids": ["bronze_to_silver_pipeline"], "tags": ["production"]},
        headers={"X-Webhook-Secret": "your-secret-key"},
        retry_policy={"max_attempts": 3, "backoff_seconds": [10, 30, 60]},
    )
    assert created.secret == "whsec_abc" and created.webhook_id == WH
    assert created.headers == {"X-Webhook-Secret": "***"}
    assert sent(route) == {
        "name": "DAG Success Notifier",
        "url": "https://your-app.com/webhooks/airflow",
        "events": ["dag.success", "dag.failure", "task.failure"],
        "filters": {"dag_ids": ["bronze_to_silver_pipeline"], "tags": ["production"]},
        "headers": {"X-Webhook-Secret": "your-secret-key"},
        "retry_policy": {"max_attempts": 3, "backoff_seconds": [10, 30, 60]},
        "enabled": True,
    }
    assert route.calls.last.request.headers["X-API-Key"] == "k"


def test_create_sends_only_what_was_given_and_takes_models(
    api: respx.MockRouter, client: PlatformClient
) -> None:
    route = api.post(HOOKS).respond(201, json={**webhook(), "secret": "whsec_abc"})
    client.webhooks.create("n", "https://example.com/h", ["task.retry"], enabled=False, tenant_id="team-b")
    assert sent(route) == {
        "name": "n",
        "url": "https://example.com/h",
        "events": ["task.retry"],
        "enabled": False,
        "tenant_id": "team-b",
    }, "the server applies its own defaults"
    client.webhooks.create(
        "n",
        "https://example.com/h",
        ["dag.failure"],
        filters=WebhookFilters(tags=["gold"]),
        retry_policy=RetryPolicy(max_attempts=5),
        description="pager",
    )
    body = sent(route)
    assert body["filters"] == {"tags": ["gold"]} and body["description"] == "pager"
    assert body["retry_policy"]["max_attempts"] == 5


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"events": []}, "events"),
        ({"events": ["dag.started"]}, "events"),
        ({"events": ["dag.success", "dag.success"]}, "events"),
        ({"name": ""}, "name"),
        ({"headers": {"webhook-signature": "x"}}, "headers"),
        ({"headers": {"Content-Type": "text/plain"}}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"retry_policy": {"max_attempts": 11}}, "retry_policy.max_attempts"),
        ({"retry_policy": {"backoff_seconds": []}}, "retry_policy.backoff_seconds"),
        ({"retry_policy": {"backoff_seconds": [90000]}}, "retry_policy.backoff_seconds"),
        ({"filters": {"dag_id": ["x"]}}, "filters.dag_id"),
    ],
)
def test_create_refuses_bad_bodies_before_any_request(
    api: respx.MockRouter, client: PlatformClient, fields: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"name": "n", "url": "https://example.com/h", "events": ["dag.success"], **fields}
    with pytest.raises(exc.ValidationError) as caught:
        client.webhooks.create(**args)
    assert caught.value.details["errors"][0]["field"] == field
    assert not api.calls


def test_the_servers_url_guard_answer_is_a_validation_error(
    api: respx.MockRouter, client: PlatformClient
) -> None:
    message = (
        "url resolves to 10.0.0.1, a non-public address; "
        "list it in [platform] webhook_allowed_hosts to allow it"
    )
    api.post(HOOKS).mock(return_value=envelope("VALIDATION_ERROR", message, 400, field="url"))
    with pytest.raises(exc.ValidationError, match="non-public address") as caught:
        client.webhooks.create("n", "http://10.0.0.1/h", ["dag.success"])
    assert caught.value.details == {"field": "url"} and caught.value.request_id == "req_server"


def test_list_filters_and_pages_by_itself(api: respx.MockRouter, client: PlatformClient) -> None:
    items = [webhook(f"wh_{i:016x}") for i in range(5)]
    route = api.get(HOOKS).mock(side_effect=paged_total(items, "webhooks"))
    page = client.webhooks.list(event="dag.failure", enabled=True, limit=2)
    assert [w.webhook_id for w in page.webhooks] == ["wh_0000000000000000", "wh_0000000000000001"]
    assert page.total_entries == 5 and page.limit == 2 and page.offset == 0
    assert [w.webhook_id for w in page] == [w["webhook_id"] for w in items]
    assert route.call_count == 3
    params = route.calls[0].request.url.params
    assert dict(params) == {"limit": "2", "offset": "0", "event": "dag.failure", "enabled": "true"}
    client.webhooks.list(enabled=False, offset=4)
    params = route.calls.last.request.url.params
    assert dict(params) == {"limit": "100", "offset": "4", "enabled": "false"}


def test_get_update_delete(api: respx.MockRouter, client: PlatformClient) -> None:
    api.get(f"{HOOKS}/{WH}").respond(json=webhook())
    patch = api.patch(f"{HOOKS}/{WH}").respond(json=webhook(enabled=False, description=None))
    delete = api.delete(f"{HOOKS}/{WH}").respond(204)
    got = client.webhooks.get(WH)
    assert got.filters["tags"] == ["production"] and got.retry_policy["max_attempts"] == 3
    assert "secret" not in got.model_dump()

    updated = client.webhooks.update(WH, enabled=False, description=None, headers={"X-Team": "a"})
    assert updated.enabled is False
    assert sent(patch) == {"enabled": False, "description": None, "headers": {"X-Team": "a"}}
    client.webhooks.update(WH, retry_policy={"max_attempts": 2, "backoff_seconds": [5]})
    assert sent(patch) == {"retry_policy": {"max_attempts": 2, "backoff_seconds": [5]}}
    with pytest.raises(exc.ValidationError, match="secret"):
        client.webhooks.update(WH, secret="whsec_mine")
    with pytest.raises(exc.ValidationError, match="events"):
        client.webhooks.update(WH, events=["dag.nope"])
    assert patch.call_count == 2

    assert client.webhooks.delete(WH) is None
    assert delete.call_count == 1


def test_ids_are_path_segments(api: respx.MockRouter, client: PlatformClient) -> None:
    route = api.get(f"{HOOKS}/wh%2F..%2Fx").respond(json=webhook())
    client.webhooks.get("wh/../x")
    assert route.call_count == 1


def test_rotate_secret_and_test(api: respx.MockRouter, client: PlatformClient, sleeps: list[float]) -> None:
    rotate = api.post(f"{HOOKS}/{WH}/rotate-secret").respond(json=rotated())
    result = client.webhooks.rotate_secret(WH)
    assert result.secret == "whsec_new" and result.previous_secret_expires_at.day == 16
    assert rotate.calls.last.request.content == b""

    test = api.post(f"{HOOKS}/{WH}/test").mock(
        side_effect=[
            envelope("SERVICE_UNAVAILABLE", "db", 503),
            httpx.Response(200, json=delivery(event="webhook.test", status="failed", error="HTTP 500")),
        ]
    )
    with pytest.raises(exc.ServiceUnavailableError):
        client.webhooks.test(WH)
    assert test.call_count == 1 and not sleeps, "a test send may have happened: never retried"
    sent_test = client.webhooks.test(WH)
    assert (sent_test.event, sent_test.status, sent_test.error) == ("webhook.test", "failed", "HTTP 500")


def test_deliveries_delivery_and_redeliver(api: respx.MockRouter, client: PlatformClient) -> None:
    items = [delivery(f"msg_{i:026d}") for i in range(3)]
    route = api.get(f"{HOOKS}/{WH}/deliveries").mock(side_effect=paged_total(items, "deliveries"))
    page = client.webhooks.deliveries(WH, status="failed", event="dag.success", limit=2)
    assert len(page.deliveries) == 2 and page.total_entries == 3
    assert [d.delivery_id for d in page] == [d["delivery_id"] for d in items]
    assert dict(route.calls[0].request.url.params) == {
        "limit": "2",
        "offset": "0",
        "status": "failed",
        "event": "dag.success",
    }

    api.get(f"{HOOKS}/{WH}/deliveries/{MSG}").respond(json=delivery_detail())
    detail = client.webhooks.delivery(WH, MSG)
    assert detail.payload["data"]["dag_id"] == "etl" and detail.attempt_log[0].response_status == 204

    redeliver = api.post(f"{HOOKS}/{WH}/deliveries/{MSG}/redeliver").respond(
        202, json=delivery(status="pending", next_attempt_at=STAMP, delivered_at=None)
    )
    again = client.webhooks.redeliver(WH, MSG)
    assert again.status == "pending" and again.delivery_id == MSG and redeliver.call_count == 1


def test_errors_are_typed(api: respx.MockRouter, client: PlatformClient) -> None:
    api.get(f"{HOOKS}/wh_nope").mock(return_value=envelope("RESOURCE_NOT_FOUND", "No webhook wh_nope.", 404))
    api.delete(f"{HOOKS}/{WH}").mock(return_value=envelope("PERMISSION_DENIED", "Not your tenant.", 403))
    api.post(f"{HOOKS}/{WH}/deliveries/{MSG}/redeliver").mock(
        return_value=envelope("CONFLICT", "The delivery is pending already.", 409)
    )
    with pytest.raises(exc.ResourceNotFoundError, match="wh_nope"):
        client.webhooks.get("wh_nope")
    with pytest.raises(exc.PermissionDeniedError):
        client.webhooks.delete(WH)
    with pytest.raises(exc.ConflictError):
        client.webhooks.redeliver(WH, MSG)


def test_tolerant_of_fields_a_newer_server_adds(api: respx.MockRouter, client: PlatformClient) -> None:
    api.get(f"{HOOKS}/{WH}").respond(json=webhook(last_delivery_at=STAMP))
    assert client.webhooks.get(WH).model_extra == {"last_delivery_at": STAMP}


def test_the_async_client_has_the_same_surface() -> None:
    sync, aio = PlatformClient(BASE, api_key="k").webhooks, AsyncPlatformClient(BASE, api_key="k").webhooks
    public = {m for m in dir(sync) if not m.startswith("_")}
    assert public == {m for m in dir(aio) if not m.startswith("_")}
    assert {
        "create",
        "list",
        "get",
        "update",
        "delete",
        "rotate_secret",
        "test",
        "deliveries",
        "delivery",
        "redeliver",
    } <= public
    for name in public:
        assert list(inspect.signature(getattr(sync, name)).parameters) == list(
            inspect.signature(getattr(aio, name)).parameters
        ), name


def test_async_flows(api: respx.MockRouter) -> None:
    api.post(HOOKS).respond(201, json={**webhook(), "secret": "whsec_abc"})
    api.get(HOOKS).mock(side_effect=paged_total([webhook(f"wh_{i:016x}") for i in range(3)], "webhooks"))
    api.get(f"{HOOKS}/{WH}").respond(json=webhook())
    api.patch(f"{HOOKS}/{WH}").respond(json=webhook(name="renamed"))
    api.delete(f"{HOOKS}/{WH}").respond(204)
    api.post(f"{HOOKS}/{WH}/rotate-secret").respond(json=rotated())
    api.post(f"{HOOKS}/{WH}/test").respond(json=delivery(event="webhook.test"))
    api.get(f"{HOOKS}/{WH}/deliveries").mock(
        side_effect=paged_total([delivery(f"msg_{i:026d}") for i in range(3)], "deliveries")
    )
    api.get(f"{HOOKS}/{WH}/deliveries/{MSG}").respond(json=delivery_detail())
    api.post(f"{HOOKS}/{WH}/deliveries/{MSG}/redeliver").respond(202, json=delivery(status="pending"))

    async def main() -> None:
        async with AsyncPlatformClient(BASE, api_key="k") as client:
            hooks = client.webhooks
            assert (await hooks.create("n", "https://example.com/h", ["dag.success"])).secret == "whsec_abc"
            first = await hooks.list(limit=2)
            assert len(first.webhooks) == 2 and first.total_entries == 3
            assert len([w async for w in hooks.list(limit=2)]) == 3
            assert (await hooks.get(WH)).webhook_id == WH
            assert (await hooks.update(WH, name="renamed")).name == "renamed"
            assert (await hooks.rotate_secret(WH)).secret == "whsec_new"
            assert (await hooks.test(WH)).event == "webhook.test"
            assert [d.delivery_id async for d in hooks.deliveries(WH, limit=1)] == [
                f"msg_{i:026d}" for i in range(3)
            ]
            assert (await hooks.delivery(WH, MSG)).attempt_log[0].attempt == 1
            assert (await hooks.redeliver(WH, MSG)).status == "pending"
            assert await hooks.delete(WH) is None
            with pytest.raises(exc.ValidationError):
                await hooks.create("n", "https://example.com/h", [])

    asyncio.run(main())
