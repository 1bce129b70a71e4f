"""Helpers of the UI tests: sign in once per user (Airflow's login form is rate-limited), wait for a
page to be drawn, take screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tests import harness
from tests.actors import Actors

CHROMIUM = os.environ.get("PLATFORM_CHROMIUM", "/usr/bin/chromium")
UI = "/api/v1/platform/ui"
WAIT_MS = 30_000


#: The tenant each user works in (the page's tenant picker remembers it in localStorage).
ACTS_IN = {"alice": "team-a", "bob": "team-b"}

#: Signed-in browser state per user: Airflow's login form is rate-limited (FAB: 5 per 40 s).
_SIGNED_IN: dict[str, Any] = {}


def login(browser: Any, actors: Actors, username: str, password: str, start: str = f"{UI}/datakits") -> Any:
    """A new browser context of ``username`` on ``start``, signed in through Airflow's login form
    the first time, then with that session's cookies."""
    state = _SIGNED_IN.get(username)
    context = browser.new_context(
        base_url=actors.base_url, viewport={"width": 1360, "height": 900}, storage_state=state
    )
    context.set_default_timeout(WAIT_MS)
    tenant = ACTS_IN.get(username)
    if tenant:  # users of several tenants (alice is, once the tenants tests ran) pick one in the page
        context.add_init_script(f"window.localStorage.setItem('platform.tenant', {tenant!r});")
    page = context.new_page()
    page.goto(start)
    if state is None:
        page.wait_for_selector("input[name=username]")  # sent to Airflow's login page
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.press("input[name=password]", "Enter")
        try:
            page.wait_for_url(re.compile(re.escape(start) + r"$"))
        except Exception:
            page.screenshot(path=str(harness.REPO / "test-artifacts" / f"login-{username}.png"))
            raise AssertionError(f"{username} did not get back to {start}: at {page.url}") from None
        _SIGNED_IN[username] = context.storage_state()
    if start.startswith(UI):
        ready(page)
    return page


def ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready]", state="attached")
    assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#pf-flash")


def goto(page: Any, path: str) -> None:
    page.goto(path)
    ready(page)


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def flash_text(page: Any) -> str:
    return page.inner_text("#pf-flash") if page.is_visible("#pf-flash") else ""
