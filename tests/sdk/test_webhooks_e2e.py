"""``client.webhooks`` against the real server, delivering to a loopback receiver."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from airflow_platform import exceptions as exc
from airflow_platform.schemas.webhooks import DeliveryDetail
from airflow_platform.sdk import AsyncPlatformClient, PlatformClient
from tests import harness
from tests.e2e.conftest import MADE_SECRETS, Actors
from tests.webhooks.receivers import Receiver

pytestmark = pytest.mark.e2e


def settled(client: PlatformClient, webhook_id: str, delivery_id: str) -> DeliveryDetail | None:
    detail = client.webhooks.delivery(webhook_id, delivery_id)
    return detail if detail.status != "pending" else None


def test_webhook_round_trip(actors: Actors, airflow_server: harness.AirflowServer) -> None:
    header_value = f"hv-{uuid.uuid4().hex}"
    MADE_SECRETS.append(header_value)
    name = f"sdk-hook-{uuid.uuid4().hex[:8]}"
    with Receiver() as rx, PlatformClient(actors.base_url, api_key=actors.alice_key) as client:
        created = client.webhooks.create(
            name=name,
            url=rx.url("/hooks/airflow"),
            events=["dag.success", "task.failure"],
            filters={"dag_ids": ["sdk_webhook_dag_that_never_runs"]},
            headers={"X-Team-Token": header_value},
            retry_policy={"max_attempts": 2, "backoff_seconds": [1]},
            description="from the SDK e2e test",
        )
        secret = created.secret
        MADE_SECRETS.append(secret)
        hook_id = created.webhook_id
        assert secret.startswith("whsec_") and hook_id.startswith("wh_")
        assert created.tenant_id == "team-a" and created.created_by == "alice"
        assert created.headers == {"X-Team-Token": "***"} and header_value not in created.model_dump_json()
        assert created.retry_policy == {"max_attempts": 2, "backoff_seconds": [1]}

        got = client.webhooks.get(hook_id)
        assert got.name == name and got.filters == {
            "dag_ids": ["sdk_webhook_dag_that_never_runs"],
            "tags": [],
        }
        assert secret not in got.model_dump_json()
        assert hook_id in [w.webhook_id for w in client.webhooks.list(event="task.failure")]
        assert hook_id not in [w.webhook_id for w in client.webhooks.list(event="dag.running")]
        assert hook_id not in [w.webhook_id for w in client.webhooks.list(enabled=False)]

        # A test event: signed with the secret, custom header sent, recorded in the log.
        first = client.webhooks.test(hook_id)
        assert (first.event, first.status, first.response_status) == ("webhook.test", "succeeded", 200)
        [request] = rx.wait_for(1)
        assert request.path == "/hooks/airflow" and request.headers["x-team-token"] == header_value
        assert request.headers["webhook-id"] == first.delivery_id
        payload = Verifier(secret).verify(request.body, request.headers)
        assert payload["event"] == "webhook.test"

        # Rotation: the new secret signs, and the old one too during the grace period.
        rotated = client.webhooks.rotate_secret(hook_id)
        MADE_SECRETS.append(rotated.secret)
        assert rotated.secret.startswith("whsec_") and rotated.secret != secret
        assert client.webhooks.get(hook_id).secret_rotated_at is not None
        second = client.webhooks.test(hook_id)
        assert second.status == "succeeded"
        request = rx.wait_for(2)[1]
        assert len(request.headers["webhook-signature"].split()) == 2
        Verifier(rotated.secret).verify(request.body, request.headers)
        Verifier(secret).verify(request.body, request.headers)

        # A failing receiver: the test reports it and the log keeps it.
        rx.status = 500
        failed = client.webhooks.test(hook_id)
        assert (failed.status, failed.response_status) == ("failed", 500) and failed.error

        log = client.webhooks.deliveries(hook_id, limit=2)
        assert log.total_entries == 3 and len(log.deliveries) == 2
        assert [d.delivery_id for d in log] == [failed.delivery_id, second.delivery_id, first.delivery_id]
        assert [d.delivery_id for d in client.webhooks.deliveries(hook_id, status="failed")] == [
            failed.delivery_id
        ]
        assert not list(client.webhooks.deliveries(hook_id, event="dag.success"))
        detail = client.webhooks.delivery(hook_id, first.delivery_id)
        assert detail.payload["event"] == "webhook.test" and len(detail.attempt_log) == 1
        assert detail.attempt_log[0].response_status == 200

        # Redelivery: the same webhook-id again, through the server's dispatcher.
        rx.status = 200
        again = client.webhooks.redeliver(hook_id, failed.delivery_id)
        assert again.delivery_id == failed.delivery_id and again.status == "pending"
        redelivered = rx.wait_for(4)
        assert len(redelivered) == 4, "the dispatcher sent the delivery again"
        assert redelivered[3].headers["webhook-id"] == failed.delivery_id
        Verifier(rotated.secret).verify(redelivered[3].body, redelivered[3].headers)
        done = airflow_server.wait_for(
            "the redelivery recorded", lambda: settled(client, hook_id, failed.delivery_id), 60, 0.2
        )
        assert done.status == "succeeded" and done.response_status == 200 and len(done.attempt_log) >= 2

        # Update: only what is given changes; headers replace the whole map.
        updated = client.webhooks.update(hook_id, enabled=False, headers={"X-Other": "1"}, description=None)
        assert updated.enabled is False and updated.headers == {"X-Other": "***"}
        assert updated.description is None and updated.name == name and updated.events == created.events
        assert hook_id in [w.webhook_id for w in client.webhooks.list(enabled=False)]

        # Refusals: a non-public URL, bad bodies, another tenant's eyes.
        with pytest.raises(exc.ValidationError, match=r"127\.0\.0\.2") as caught:
            client.webhooks.update(hook_id, url="http://127.0.0.2:9/hook")
        assert "webhook_allowed_hosts" in caught.value.message
        with pytest.raises(exc.ValidationError):
            client.webhooks.create(name="x", url="http://169.254.169.254/latest", events=["dag.success"])
        with PlatformClient(actors.base_url, api_key=actors.bob_key) as bob:
            with pytest.raises(exc.ResourceNotFoundError):
                bob.webhooks.get(hook_id)
            with pytest.raises(exc.ResourceNotFoundError):
                bob.webhooks.test(hook_id)
            assert hook_id not in [w.webhook_id for w in bob.webhooks.list()]
        with PlatformClient(actors.base_url, api_key=actors.admin_key) as admin:
            assert admin.webhooks.get(hook_id).tenant_id == "team-a"

        client.webhooks.delete(hook_id)
        with pytest.raises(exc.ResourceNotFoundError):
            client.webhooks.get(hook_id)
        with pytest.raises(exc.ResourceNotFoundError):
            client.webhooks.delivery(hook_id, first.delivery_id)


def test_async_client_round_trip(actors: Actors) -> None:
    async def main(rx: Receiver) -> None:
        async with AsyncPlatformClient(actors.base_url, api_key=actors.bob_key) as client:
            created = await client.webhooks.create(
                f"async-hook-{uuid.uuid4().hex[:8]}",
                rx.url("/a"),
                ["dag.failure"],
                filters={"dag_ids": ["async_webhook_dag_that_never_runs"]},
            )
            MADE_SECRETS.append(created.secret)
            hook_id = created.webhook_id
            assert created.tenant_id == "team-b" and created.enabled is True
            assert hook_id in [w.webhook_id async for w in client.webhooks.list(limit=1)]
            results = await asyncio.gather(client.webhooks.test(hook_id), client.webhooks.test(hook_id))
            assert {r.status for r in results} == {"succeeded"}
            page = await client.webhooks.deliveries(hook_id)
            assert page.total_entries == 2
            assert (await client.webhooks.delivery(hook_id, results[0].delivery_id)).payload
            rotated = await client.webhooks.rotate_secret(hook_id)
            MADE_SECRETS.append(rotated.secret)
            assert (await client.webhooks.update(hook_id, name="renamed")).name == "renamed"
            assert (await client.webhooks.redeliver(hook_id, results[0].delivery_id)).status == "pending"
            resent = await asyncio.to_thread(rx.wait_for, 3)
            assert resent[2].headers["webhook-id"] == results[0].delivery_id
            await client.webhooks.delete(hook_id)
            with pytest.raises(exc.ResourceNotFoundError):
                await client.webhooks.get(hook_id)

    with Receiver() as rx:
        asyncio.run(main(rx))
