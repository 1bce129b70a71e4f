"""The example DAG the end-to-end tests use when ``dags_examples/`` holds it (they skip otherwise).

Expected in ``dags_examples/``: DAG ``example_platform_pipeline``, tags ``example`` and ``platform``,
``schedule="@daily"``, ``start_date`` 2024-01-01 (UTC), ``catchup=False``, tasks
``extract >> transform >> load``. Neither test server runs a scheduler or a DAG processor, so the
fixture serializes the folder (``airflow dags reserialize``) once, and runs stay ``queued``.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests import harness
from tests.conftest import SESSION_ENV

EXAMPLE_DAG = "example_platform_pipeline"
EXAMPLE_TASKS = ["extract", "transform", "load"]


def _serialized(base_url: str, key: str) -> bool:
    from airflow_platform.exceptions import ResourceNotFoundError
    from airflow_platform.sdk import PlatformClient

    with PlatformClient(base_url, api_key=key) as client:
        try:
            client.dags.get(EXAMPLE_DAG)
        except ResourceNotFoundError:
            return False
    return True


@pytest.fixture(scope="session")
def example_dag(actors) -> str:  # type: ignore[no-untyped-def]
    """The example DAG's id once the server knows it; skips the test when the file is absent."""
    folder = harness.REPO / "dags_examples"
    if not any(EXAMPLE_DAG in path.read_text(errors="replace") for path in folder.glob("*.py")):
        pytest.skip(f"dags_examples/ has no {EXAMPLE_DAG} DAG yet")
    if not _serialized(actors.base_url, actors.admin_key):
        subprocess.run(
            [harness.AIRFLOW_BIN, "dags", "reserialize"],
            env={**os.environ, **SESSION_ENV},
            capture_output=True,
            check=True,
            timeout=300,
        )
        deadline = time.monotonic() + 60
        while not _serialized(actors.base_url, actors.admin_key):
            if time.monotonic() > deadline:
                pytest.fail(f"{EXAMPLE_DAG} was reserialized but the server does not list it")
            time.sleep(1)
    return EXAMPLE_DAG
