"""Fuzzing fixtures: a real server of the fuzzer's own (fresh metadata DB) and a platform-admin key.

The fuzzer's own key is never the target of a destructive call (see ``protected_ids`` and
``st_hooks.py``); nothing else needs protecting, since no other test uses this server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import harness
from tests.actors import MADE_SECRETS
from tests.conftest import SESSION_ENV


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return value
    return []


@pytest.fixture(scope="module")
def fuzz_server(
    artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[harness.AirflowServer]:
    """A server of the fuzzer's own, on a fresh metadata DB: the same seed meets the same state in
    every run (on the session's server, what earlier tests left changed the answers from run to run)."""
    home = tmp_path_factory.mktemp("fuzz-home")
    port = harness.free_port()
    env = {
        **SESSION_ENV,
        **harness.airflow_env(home, port=port),
        "AIRFLOW__PLATFORM__RATE_LIMIT_WRITE": "10000/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_DELETE": "10000/minute",
        "AIRFLOW__PLATFORM__RATE_LIMIT_BULK": "10000/minute",
    }
    harness.prepare_airflow_home(env)
    with harness.running_server(env, port, artifacts_dir) as server:
        yield server


@pytest.fixture(scope="module")
def fuzz_admin_key(fuzz_server: harness.AirflowServer) -> str:
    """A platform-admin key of the fuzzer's own."""
    key = harness.create_key(fuzz_server.env, harness.ADMIN_USER, "--name", "fuzz admin")
    MADE_SECRETS.append(key)
    return key


@pytest.fixture(scope="module")
def protected_ids(fuzz_server: harness.AirflowServer, fuzz_admin_key: str) -> set[str]:
    """The fuzzer's own key: revoking it would turn the rest of the run into 401s."""
    with httpx.Client(base_url=fuzz_server.base_url, headers={"X-API-Key": fuzz_admin_key}) as admin:
        response = admin.get("/api/v1/platform/api-keys", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return {str(item.get("key_id")) for item in _items(response.json())}
