"""The "Platform" pages in Debian's Chromium (Playwright), against the real Airflow server.

Every user logs in through Airflow's own login form; the pages call the platform API with that
session. Each page's screenshot goes to the run's artifact folder (``ui/``).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests import harness
from tests.actors import PASSWORD, Actors
from tests.ui.browser import UI, flash_text, goto, login, ready, shot

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


PAUSE_KIT = "ui-pause-kit"
PAUSE_DEPLOYMENT = f"datakit__{PAUSE_KIT}__dev"


def pause_kit_yaml(version: str) -> str:
    return (
        f"name: {PAUSE_KIT}\nversion: {version}\ndescription: Paused and rolled back in the UI\n"
        f"image: registry.localhost/datakits/{PAUSE_KIT}:{version}\ntype: transformation\n"
        "outputs:\n  - name: rows\ntags: [ui]\n"
    )


def reserialize_until(actors: Actors, check_path: str, key: str) -> None:
    """Parse the DAG folder (the test server runs no DAG processor) till ``check_path``'s ``key`` is set."""
    from tests.conftest import SESSION_ENV

    with actors.client(actors.alice_key) as api:
        for _ in range(3):
            subprocess.run(
                [harness.AIRFLOW_BIN, "dags", "reserialize"],
                env={**os.environ, **SESSION_ENV},
                capture_output=True,
                check=True,
                timeout=300,
            )
            if api.get(check_path).json().get(key):
                return
    raise AssertionError(f"{check_path}: {key} still false after parsing the DAG folder")


def test_deployment_paused_unpaused_and_rolled_back(browser: Any, actors: Actors, shots: Path) -> None:
    path = f"/api/v1/datakits/deployments/{PAUSE_DEPLOYMENT}"
    with actors.client(actors.alice_key) as api:
        for version in ("1.0.0", "2.0.0"):
            r = api.post(
                "/api/v1/datakits",
                content=pause_kit_yaml(version),
                headers={"Content-Type": "application/yaml"},
            )
            assert r.status_code in (201, 409), r.text
        for version in ("1.0.0", "2.0.0"):
            r = api.post(
                f"/api/v1/datakits/{PAUSE_KIT}/deploy", json={"environment": "dev", "version": version}
            )
            assert r.status_code in (200, 201), r.text
        reserialize_until(actors, path, "dag_present")
        assert api.get(path).json()["version"] == "2.0.0"

        page = login(browser, actors, "alice", PASSWORD, start=f"{UI}/deployments")
        row = page.locator(f"tr[data-deployment='{PAUSE_DEPLOYMENT}']")
        row.wait_for()
        assert "2.0.0" in row.locator("td").nth(1).inner_text()
        toggle = row.locator("button[data-action=pause]")
        if api.get(path).json()["is_paused"]:  # new DAGs may start paused: unpause first
            assert toggle.inner_text() == "Unpause"
            toggle.click()
            row.locator("button[data-action=pause]", has_text=re.compile("^Pause$")).wait_for()
            assert api.get(path).json()["is_paused"] is False

        toggle.click()
        row.locator("button[data-action=pause]", has_text=re.compile("^Unpause$")).wait_for()
        assert f"Paused {PAUSE_DEPLOYMENT}" in flash_text(page)
        assert row.locator(".pf-badge").first.inner_text() == "paused"
        assert api.get(path).json()["is_paused"] is True
        shot(page, shots, "deployments-paused")

        toggle.click()
        row.locator("button[data-action=pause]", has_text=re.compile("^Pause$")).wait_for()
        assert f"Unpaused {PAUSE_DEPLOYMENT}" in flash_text(page)
        assert row.locator(".pf-badge").first.inner_text() != "paused"
        assert api.get(path).json()["is_paused"] is False

        row.locator("select[aria-label='Rollback version']").select_option("1.0.0")
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button[data-action=rollback]").click()
        page.wait_for_function(
            f"() => document.querySelector(\"tr[data-deployment='{PAUSE_DEPLOYMENT}'] td:nth-child(2)\")"
            "?.textContent.includes('1.0.0')"
        )
        assert f"Rolled {PAUSE_DEPLOYMENT} to 1.0.0" in flash_text(page)
        assert api.get(path).json()["version"] == "1.0.0"
        shot(page, shots, "deployments-rolled-back")
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
