"""The "Platform" pages in Debian's Chromium (Playwright), against the real Airflow server.

Every user logs in through Airflow's own login form; the pages call the platform API with that
session. Each page's screenshot goes to the run's artifact folder (``ui/``).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import harness
from tests.actors import PASSWORD, Actors

CHROMIUM = os.environ.get("PLATFORM_CHROMIUM", "/usr/bin/chromium")
UI = "/api/v1/platform/ui"
WAIT_MS = 30_000
LONG_QUERY = "SELECT count(*) AS n FROM range(100000000000) a"

KIT_YAML = """\
name: ui-orders-rollup
version: 1.0.0
description: Rolls orders up by region (registered from the UI test)
image: registry.localhost/datakits/ui-orders-rollup:1.0.0
type: transformation
inputs:
  - name: orders
    schema: gold
outputs:
  - name: orders_by_region
configuration:
  min_total:
    type: number
    default: 0
    description: Orders below this total are left out
  mode:
    type: string
    enum: [fast, exact]
    default: fast
  batch_size:
    type: integer
    required: true
    minimum: 1
tags: [ui, example]
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        harness.missing_service("Chromium", f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        harness.missing_service("Playwright", "pip install playwright (the [test] extra)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "ui"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def warehouse(airflow_server: harness.AirflowServer) -> str:
    from airflow_platform.demo.warehouse import seed

    path = airflow_server.env["AIRFLOW__PLATFORM__WAREHOUSE_PATH"]
    seed(path)
    return path


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


def test_pages_need_airflow_login(actors: Actors) -> None:
    r = httpx.get(f"{actors.base_url}{UI}/sql", follow_redirects=False)
    assert r.status_code == 302 and "login" in r.headers["location"]
    assert "next=" in r.headers["location"]
    me = httpx.get(f"{actors.base_url}{UI}/me")
    assert me.status_code == 401 and me.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_menu_opens_every_page(browser: Any, actors: Actors, shots: Path) -> None:
    from airflow_platform.ui.menu import PAGES

    home = "/" if harness.airflow_major() >= 3 else "/home"
    page = login(browser, actors, harness.ADMIN_USER, harness.ADMIN_PASSWORD, start=home)
    if harness.airflow_major() >= 3:
        # Airflow 3's navigation: "Plugins" → category "Platform" → our external views (iframes).
        for slug, name in PAGES:
            page.goto("/")
            page.get_by_role("button", name=re.compile("Plugins")).click()
            page.get_by_role("menuitem", name="Platform").hover()
            page.get_by_role("menuitem", name=name, exact=True).click()
            page.wait_for_url(re.compile(f"/plugin/platform-{slug}"))
            frame = page.frame_locator("iframe")
            frame.locator("body[data-ready=true]").wait_for()
            assert frame.locator(".pf-nav a.active").inner_text() == name
            shot(page, shots, f"menu-{slug}")
    else:
        for slug, name in PAGES:
            page.goto("/home")
            page.get_by_role("link", name="Platform", exact=True).click()
            page.get_by_role("link", name=name, exact=True).click()
            page.wait_for_url(re.compile(f"{UI}/{slug}$"))
            ready(page)
            assert page.inner_text(".pf-nav a.active") == name
            shot(page, shots, f"menu-{slug}")
    page.context.close()


def test_register_deploy_and_deployments(browser: Any, actors: Actors, shots: Path) -> None:
    page = login(browser, actors, "alice", PASSWORD)
    page.click("#pf-register-open")
    page.fill("#pf-register-yaml", "name: broken\nversion: not-semver\nimage: x\n")
    page.click("#pf-register-submit")
    page.wait_for_selector("#pf-flash.error")
    assert "version" in flash_text(page).lower()  # the API's own message, readable

    page.fill("#pf-register-yaml", KIT_YAML)
    page.click("#pf-register-submit")
    page.wait_for_url(re.compile(f"{UI}/datakits/ui-orders-rollup"))
    ready(page)
    page.wait_for_selector("#pf-flash.ok")
    assert "Registered ui-orders-rollup 1.0.0" in flash_text(page)
    assert page.locator("#pf-manifest").inner_text().count("ui-orders-rollup") >= 1
    assert page.locator("[data-config-key=batch_size]").count() == 1
    assert page.locator("select[data-config-key=mode] option").count() == 3
    shot(page, shots, "datakit")

    # The form checks the schema before the API is called.
    page.click("#pf-deploy-submit")
    assert "batch_size: required" in flash_text(page)
    page.fill("[data-config-key=batch_size]", "0")
    page.click("#pf-deploy-submit")
    assert "batch_size: must be ≥ 1" in flash_text(page)
    page.fill("[data-config-key=batch_size]", "500")
    page.select_option("select[data-config-key=mode]", label="exact")
    page.fill("#pf-deploy-env", "staging")
    page.fill("#pf-deploy-schedule", "@daily")
    page.click("#pf-deploy-submit")
    page.wait_for_selector("#pf-deploy-done")
    assert "datakit__ui-orders-rollup__staging" in page.inner_text("#pf-deploy-done")

    with httpx.Client(base_url=actors.base_url, headers={"X-API-Key": actors.alice_key}) as api:
        dep = api.get("/api/v1/datakits/deployments/datakit__ui-orders-rollup__staging").json()
    assert dep["configuration"] == {"batch_size": 500, "mode": "exact"} and dep["schedule"] == "@daily"

    page.goto(f"{UI}/datakits")
    ready(page)
    page.fill("#pf-dk-search", "orders-rollup")
    page.wait_for_selector("tr[data-datakit=ui-orders-rollup]")
    page.fill("#pf-dk-search", "no-such-kit-anywhere")
    page.wait_for_selector("text=No DataKits match.")
    page.fill("#pf-dk-search", "")
    page.wait_for_selector("tr[data-datakit=ui-orders-rollup]")
    shot(page, shots, "datakits")

    goto(page, f"{UI}/deployments")
    row = page.locator("tr[data-deployment='datakit__ui-orders-rollup__staging']")
    row.wait_for()
    assert row.locator(".pf-badge").first.inner_text() in ("pending", "active", "paused")
    assert row.locator("a").first.get_attribute("href").startswith("/dags/datakit__ui-orders-rollup__staging")
    shot(page, shots, "deployments")
    page.context.close()


def test_sql_editor_runs_pages_charts_and_downloads(
    browser: Any, actors: Actors, shots: Path, warehouse: str, tmp_path: Path
) -> None:
    page = login(browser, actors, "alice", PASSWORD, start=f"{UI}/sql")
    page.fill("#pf-sql", "SELECT customer_id, country FROM bronze.customers_raw ORDER BY customer_id")
    assert page.locator(".pf-editor pre .tok-kw").count() >= 3  # highlighted as typed
    page.press("#pf-sql", "Control+Enter")
    page.wait_for_selector("#pf-sql-count")
    total = int(page.inner_text("#pf-sql-count").split()[0])
    assert total > 50
    assert page.locator("#pf-sql-results tbody tr").count() == 50
    assert page.inner_text("#pf-sql-range") == f"rows 1-50 of {total}"
    first = page.locator("#pf-sql-results tbody tr").first.inner_text()
    page.get_by_role("button", name="Next").click()
    page.wait_for_selector(f"text=rows 51-{min(100, total)} of {total}")
    assert page.locator("#pf-sql-results tbody tr").first.inner_text() != first

    with page.expect_download() as info:
        page.click("#pf-sql-csv")
    csv_path = tmp_path / "rows.csv"
    info.value.save_as(csv_path)
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["customer_id", "country"] and len(rows) == total + 1

    page.fill(
        "#pf-sql",
        "SELECT country, COUNT(*) AS customers FROM bronze.customers_raw GROUP BY 1 ORDER BY 2 DESC",
    )
    page.click("#pf-sql-run")
    page.wait_for_selector("#pf-chart-svg")
    assert page.locator("#pf-chart-svg rect.pf-bar").count() >= 2
    page.select_option("#pf-chart-kind", "line")
    page.wait_for_selector("#pf-chart-svg path")
    page.wait_for_selector("#pf-sql-history li code")
    assert "GROUP BY 1" in page.locator("#pf-sql-history li code").first.inner_text()
    shot(page, shots, "sql")

    page.fill("#pf-sql", "DELETE FROM bronze.customers_raw")
    page.click("#pf-sql-run")
    page.wait_for_selector("#pf-flash.error")
    assert flash_text(page)  # the API's refusal, as a sentence
    page.context.close()


def test_sql_editor_cancels_a_long_query(browser: Any, actors: Actors, shots: Path, warehouse: str) -> None:
    page = login(browser, actors, "alice", PASSWORD, start=f"{UI}/sql")
    page.fill("#pf-sql", LONG_QUERY)
    page.click("#pf-sql-run")
    page.wait_for_selector("#pf-sql-status .pf-spinner")
    assert page.is_disabled("#pf-sql-run")
    cancel = page.locator("#pf-sql-cancel")
    cancel.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#pf-sql-status').textContent.includes('Running')")
    # The Cancel button acts once the server has answered with the query's id.
    page.wait_for_timeout(300)
    cancel.click()
    page.wait_for_selector("#pf-sql-status .pf-badge.cancelled")
    assert not page.is_disabled("#pf-sql-run") and not cancel.is_visible()
    page.context.close()


def test_api_key_created_shown_once_and_revoked(browser: Any, actors: Actors, shots: Path) -> None:
    page = login(browser, actors, "alice", PASSWORD, start=f"{UI}/api-keys")
    page.fill("#pf-key-name", "ui-test key")
    page.click("#pf-key-create")
    page.wait_for_selector("#pf-key-value")
    secret = page.inner_text("#pf-key-value").strip()
    page.click("#pf-key-copy")
    page.wait_for_selector("text=Copied.")
    row = page.locator("tr[data-key-name='ui-test key']")
    row.wait_for()
    assert secret not in row.inner_text()  # only the prefix is listed
    shot(page, shots, "api-keys")
    with httpx.Client(base_url=actors.base_url) as http:
        assert http.get("/api/v1/platform/tenants", headers={"X-API-Key": secret}).status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button[data-action=revoke]").click()
        page.wait_for_selector("tr[data-key-name='ui-test key'] .pf-badge.revoked")
        assert http.get("/api/v1/platform/tenants", headers={"X-API-Key": secret}).status_code == 401
    page.reload()
    ready(page)
    assert page.locator("#pf-key-value").count() == 0  # the secret is never shown again
    page.context.close()


def test_connection_created_and_tested(browser: Any, actors: Actors, shots: Path, tmp_path: Path) -> None:
    page = login(browser, actors, harness.ADMIN_USER, harness.ADMIN_PASSWORD, start=f"{UI}/connections")
    page.click("#pf-conn-new")
    page.fill("#pf-conn-id", "ui_duck")
    page.fill("#pf-conn-type", "duckdb")
    page.fill("#pf-conn-host", str(tmp_path / "ui.duckdb"))
    page.click("#pf-conn-create")
    row = page.locator("tr[data-connection=ui_duck]")
    row.wait_for()
    row.locator("button[data-action=test]").click()
    result = row.locator(".pf-test-result")
    result.locator(".pf-result-ok").wait_for()
    assert re.search(r"\d+ ms", result.inner_text())
    shot(page, shots, "connections")

    goto(page, f"{UI}/tenants")
    page.wait_for_selector("tr[data-tenant=team-a]")
    assert page.is_visible("#pf-tenant-create")
    page.fill("#pf-tenant-id", "bad tenant!")
    page.click("#pf-tenant-create")
    page.wait_for_selector("#pf-flash.error")
    shot(page, shots, "tenants")
    page.context.close()


def test_viewer_sees_no_write_buttons(browser: Any, actors: Actors, shots: Path) -> None:
    page = login(browser, actors, "viewer", PASSWORD)
    page.wait_for_selector("#pf-dk-list table, #pf-dk-list .pf-empty")
    assert page.locator("#pf-register-open").count() == 0
    goto(page, f"{UI}/datakits/ui-orders-rollup")
    if page.locator("#pf-deploy").count():  # the kit is shared with the viewer's tenant only if made so
        assert page.locator("#pf-deploy-submit").count() == 0
    goto(page, f"{UI}/sql")
    assert page.is_disabled("#pf-sql-run")
    assert page.locator("#pf-sql-save").count() == 0
    goto(page, f"{UI}/deployments")
    page.wait_for_selector("#pf-deployments table, #pf-deployments .pf-empty")
    assert page.locator("button[data-action]").count() == 0
    goto(page, f"{UI}/api-keys")
    assert "do not have permission" in page.inner_text("#pf-main")
    goto(page, f"{UI}/connections")
    assert "do not have permission" in page.inner_text("#pf-main")
    goto(page, f"{UI}/tenants")
    page.wait_for_selector("#pf-tenants table, #pf-tenants .pf-empty")
    assert page.locator("#pf-tenant-create").count() == 0
    shot(page, shots, "viewer-tenants")
    page.context.close()
