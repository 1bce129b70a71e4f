"""The browser and the screenshot folder of the UI tests, shared by their modules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import harness
from tests.ui.browser import CHROMIUM


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
