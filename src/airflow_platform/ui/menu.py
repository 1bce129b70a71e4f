"""The pages of the "Platform" menu. Import-light: the plugin reads it in every Airflow process."""

from __future__ import annotations

from airflow_platform.api.paths import API_PREFIX

UI_PREFIX = f"{API_PREFIX}/ui"

#: (slug, menu name).
PAGES: tuple[tuple[str, str], ...] = (
    ("datakits", "DataKits"),
    ("deployments", "Deployments"),
    ("sql", "SQL Editor"),
    ("tenants", "Tenants"),
    ("connections", "Connections"),
    ("webhooks", "Webhooks"),
    ("api-keys", "API Keys"),
)


def menu_items() -> list[tuple[str, str, str]]:
    """``(name, href, url_route)`` of every page, in menu order."""
    return [(name, f"{UI_PREFIX}/{slug}", f"platform-{slug}") for slug, name in PAGES]
