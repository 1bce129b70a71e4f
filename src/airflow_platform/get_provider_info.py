"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

The plugin is deliberately not listed under ``plugins`` here: the ``airflow.plugins`` entry point
already registers it, and Airflow 3 reports a second registration as a plugin import error.
"""

from __future__ import annotations

from typing import Any

from airflow_platform.config import OPTIONS, SECTION
from airflow_platform.version import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-platform",
        "name": "Airflow Platform",
        "description": "Platform Admin API, DataKit registry, analytics queries, GraphQL, SDK and CLI.\n",
        "versions": [__version__],
        "config": {
            SECTION: {
                "description": "Settings of the Airflow Platform package.\n",
                "options": OPTIONS,
            }
        },
        "db-managers": ["airflow_platform.storage.db_manager.PlatformDBManager"],
    }
