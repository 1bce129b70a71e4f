"""The Webhooks page in Chromium against the real server: create a webhook to a loopback receiver
(the test servers allow-list 127.0.0.1), see its secret once, send a test and find it in the delivery
log, redeliver it, rotate the secret, disable and delete; a Viewer sees no write buttons."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.actors import PASSWORD, Actors
from tests.ui.browser import UI, flash_text, goto, login, shot

WEBHOOKS = "/api/v1/platform/webhooks"


@pytest.fixture(scope="module")
def webhooks_served(actors: Actors) -> None:
    """The page draws itself only when ``/ui/me`` says the webhooks API is served."""
    with actors.client(actors.alice_key) as api:
        me = api.get(f"{UI}/me").json()
    assert me["features"]["webhooks"] is True
    assert me["can"]["Webhooks"] == {"read": True, "create": True, "edit": True, "delete": True}


def find(api: httpx.Client, name: str) -> dict[str, Any]:
    [hook] = [w for w in api.get(WEBHOOKS, params={"limit": 500}).json()["webhooks"] if w["name"] == name]
    return hook


def test_webhook_created_tested_redelivered_rotated_and_deleted(
    browser: Any, actors: Actors, shots: Path, webhooks_served: None
) -> None:
    from standardwebhooks.webhooks import Webhook

    from tests.webhooks.receivers import Receiver

    with Receiver() as rx, actors.client(actors.alice_key) as api:
        page = login(browser, actors, "alice", PASSWORD, start=f"{UI}/webhooks")
        page.click("#pf-wh-new")
        # The form checks what it can before calling the API.
        page.fill("#pf-wh-name", "ui-hook")
        page.fill("#pf-wh-url", "ftp://example.com/x")
        page.click("#pf-wh-create")
        assert "an http(s) URL" in flash_text(page) and "at least one event" in flash_text(page)

        # A non-public address is refused by the server, with its reason shown.
        page.fill("#pf-wh-url", "http://169.254.169.254/latest/meta-data")
        page.check("[data-event='dag.failure']")
        page.click("#pf-wh-create")
        page.wait_for_selector("#pf-flash.error")
        assert "169.254.169.254" in flash_text(page)

        page.fill("#pf-wh-url", rx.url("/hook"))
        page.check("[data-event='task.failure']")
        page.fill("#pf-wh-dag-ids", "etl_daily, export_orders")
        page.fill("#pf-wh-tags", "production")
        page.fill("#pf-wh-headers", "X-Team: team-a\nAuthorization: Bearer not-shown-again")
        page.fill("#pf-wh-max-attempts", "4")
        page.fill("#pf-wh-backoff", "0, 5, 10")
        page.click("#pf-wh-create")
        page.wait_for_selector("#pf-wh-secret-value")
        secret = page.inner_text("#pf-wh-secret-value").strip()
        assert secret.startswith("whsec_")
        page.click("#pf-wh-secret-copy")
        page.wait_for_selector("#pf-wh-secret-copied:has-text('Copied.')")
        row = page.locator("tr[data-webhook-name='ui-hook']")
        row.wait_for()
        assert secret not in page.inner_text("#pf-webhooks")
        assert "not-shown-again" not in page.content()

        hook = find(api, "ui-hook")
        assert hook["url"] == rx.url("/hook") and hook["events"] == ["dag.failure", "task.failure"]
        assert hook["filters"] == {"dag_ids": ["etl_daily", "export_orders"], "tags": ["production"]}
        assert hook["headers"] == {"X-Team": "***", "Authorization": "***"}
        assert hook["retry_policy"] == {"max_attempts": 4, "backoff_seconds": [0, 5, 10]}
        assert hook["enabled"] is True and hook["tenant_id"] == "team-a"
        row.locator(".pf-wh-last", has_text="never").wait_for()

        # Send test: the result in the row, the receiver got a signed request, the log shows it.
        row.locator("button[data-action=test]").click()
        row.locator(".pf-test-result .pf-result-ok").wait_for()
        assert "HTTP 200" in row.locator(".pf-test-result").inner_text()
        [first] = rx.wait_for(1)
        assert json.loads(first.body)["event"] == "webhook.test"
        Webhook(secret).verify(first.body, first.headers)  # raises unless signed with the shown secret
        assert first.headers["x-team"] == "team-a"
        log_row = page.locator("#pf-wh-deliveries tr[data-status=succeeded]").first
        log_row.wait_for()
        assert "webhook.test" in log_row.inner_text() and "200" in log_row.inner_text()
        page.locator("tr[data-webhook-name='ui-hook'] .pf-wh-last .pf-badge.succeeded").wait_for()

        log_row.locator("button[data-action=view]").click()
        page.wait_for_selector("#pf-wh-payload")
        assert json.loads(page.inner_text("#pf-wh-payload"))["event"] == "webhook.test"
        detail = page.locator("[data-delivery-detail]")
        delivery_id = detail.get_attribute("data-delivery-detail")
        assert delivery_id == first.headers["webhook-id"]
        assert detail.locator("table .pf-result-ok", has_text="200").count() == 1  # the attempt log
        shot(page, shots, "webhooks")

        # Redeliver: pending again, sent by the server's dispatcher under the same webhook-id.
        page.click("#pf-wh-redeliver")
        page.wait_for_selector("#pf-flash.ok")
        assert f"Redelivery of {delivery_id} queued" in flash_text(page)
        requests = rx.wait_for(2, timeout=120)
        assert len(requests) == 2, "the redelivery did not arrive"
        assert requests[1].headers["webhook-id"] == delivery_id
        Webhook(secret).verify(requests[1].body, requests[1].headers)

        # Rotate: the new secret shown once; the old one keeps signing during the grace period.
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button[data-action=rotate]").click()
        page.wait_for_function(
            f"() => document.querySelector('#pf-wh-secret-value')?.textContent.trim() !== {secret!r}"
        )
        rotated = page.inner_text("#pf-wh-secret-value").strip()
        assert rotated.startswith("whsec_") and rotated != secret
        assert "previous secret keeps signing" in page.inner_text("#pf-wh-secret")

        # Disable, then delete (confirmed).
        row.locator("button[data-action=toggle]").click()
        page.locator(
            "tr[data-webhook-name='ui-hook'] button[data-action=toggle]", has_text="Enable"
        ).wait_for()
        assert page.locator("tr[data-webhook-name='ui-hook'] .pf-badge.paused").inner_text() == "disabled"
        assert find(api, "ui-hook")["enabled"] is False
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("tr[data-webhook-name='ui-hook'] button[data-action=delete]").click()
        page.locator("tr[data-webhook-name='ui-hook']").wait_for(state="detached")
        assert api.get(f"{WEBHOOKS}/{hook['webhook_id']}").status_code == 404
        page.context.close()


def test_viewer_sees_webhooks_without_write_buttons(
    browser: Any, actors: Actors, shots: Path, webhooks_served: None
) -> None:
    from tests.webhooks.receivers import Receiver

    with actors.client(actors.viewer_key) as viewer_api:
        me = viewer_api.get(f"{UI}/me").json()
    tenant = me["tenant_id"]
    assert me["can"]["Webhooks"] == {"read": True, "create": False, "edit": False, "delete": False}
    with Receiver() as rx, actors.client(actors.admin_key) as admin:
        r = admin.post(
            WEBHOOKS,
            json={
                "name": "ui-viewer-hook",
                "url": rx.url("/v"),
                "events": ["dag.success"],
                "tenant_id": tenant,
            },
        )
        assert r.status_code == 201, r.text
        hook_id = r.json()["webhook_id"]
        try:
            assert admin.post(f"{WEBHOOKS}/{hook_id}/test").json()["status"] == "succeeded"
            page = login(browser, actors, "viewer", PASSWORD, start=f"{UI}/webhooks")
            goto(page, f"{UI}/webhooks")
            row = page.locator("tr[data-webhook-name='ui-viewer-hook']")
            row.wait_for()
            assert page.locator("#pf-wh-new").count() == 0
            assert [b.get_attribute("data-action") for b in row.locator("button").all()] == ["deliveries"]
            row.locator("button[data-action=deliveries]").click()
            page.locator("#pf-wh-deliveries tr[data-status=succeeded] button[data-action=view]").click()
            page.wait_for_selector("#pf-wh-payload")
            assert page.locator("#pf-wh-redeliver").count() == 0
            assert re.search(r"\bwebhook\.test\b", page.inner_text("#pf-wh-payload"))
            shot(page, shots, "viewer-webhooks")
            page.context.close()
        finally:
            admin.delete(f"{WEBHOOKS}/{hook_id}")
