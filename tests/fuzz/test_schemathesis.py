"""Schemathesis against the real server: the OpenAPI document and GraphQL, with all checks.

The ``st`` command line runs, as CI would run it, against a real Airflow server of its own: every
operation of ``/api/v1/platform/openapi.json`` through the examples, coverage, fuzzing and stateful
phases (links inferred from responses: create → get/patch/delete), and ``/graphql`` from its
introspected schema. The budget is bounded and seeded (``-n``, ``--seed``, no shrinking) so a run
takes well under a minute and is reproducible; raise ``PLATFORM_FUZZ_EXAMPLES`` to dig deeper.

The fuzzer is a platform admin with a key of its own on a fresh server (so a seed meets the same
state every run); its key is never the target of a destructive call (``conftest.py``, ``st_hooks.py``).
Failures are written as JUnit XML beside the server logs (``test-artifacts/airflow-<version>/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import harness

EXAMPLES = os.environ.get("PLATFORM_FUZZ_EXAMPLES", "5")
SEED = os.environ.get("PLATFORM_FUZZ_SEED", "20261126")

# Every check stays on. One is told about statuses it cannot know, with the reason:
# positive_data_acceptance expects a schema-valid body to be accepted, but several bodies carry
# meaning that JSON Schema cannot state, and the platform answers those with 400 VALIDATION_ERROR
# as the API reference says: SQL that must be one read (`query`), users/tenants/DataKits a body
# names that must exist, cross-field rules (e.g. refresh_token only with authorization_code),
# export destinations inside `export_allowed_paths`. 400 is therefore an expected answer to a
# schema-valid body; 5xx and undocumented statuses still fail (not_a_server_error,
# status_code_conformance).
# negative_data_rejection gets 414 beside its defaults: an over-long query string is refused by
# Airflow 2's gunicorn before the platform sees it (4094-byte request line); the document says so.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

[checks.negative_data_rejection]
expected-statuses = [
  "400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "5xx",
]
"""


def _st(tmp_path: Path, location: str, key: str, protected: set[str], name: str, *args: str) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    reports = Path(os.environ.get("PLATFORM_TEST_ARTIFACTS", harness.REPO / "test-artifacts"))
    from importlib.metadata import version

    report = reports / f"airflow-{version('apache-airflow')}" / f"fuzz-{name}.xml"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        location,
        "--header",
        f"X-API-Key: {key}",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--no-shrink",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *args,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(harness.REPO),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.st_hooks",
        "PLATFORM_FUZZ_PROTECTED": ",".join(sorted(protected)),
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = f"{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"schemathesis found problems ({name}):\n{output}"


def test_openapi_document(
    fuzz_server: harness.AirflowServer,
    fuzz_admin_key: str,
    protected_ids: set[str],
    tmp_path: Path,
) -> None:
    _st(
        tmp_path,
        f"{fuzz_server.base_url}/api/v1/platform/openapi.json",
        fuzz_admin_key,
        protected_ids,
        "openapi",
        "--url",
        fuzz_server.base_url,
        "--phases",
        "examples,coverage,fuzzing,stateful",
    )


def test_graphql(
    fuzz_server: harness.AirflowServer,
    fuzz_admin_key: str,
    protected_ids: set[str],
    tmp_path: Path,
) -> None:
    # not_a_server_error counts every resolver error (a missing DAG, a negative offset) as a server
    # error; st_hooks.graphql_no_server_error replaces it: a 5xx, an error without extensions.code,
    # or INTERNAL_ERROR fails.
    _st(
        tmp_path,
        f"{fuzz_server.base_url}/graphql",
        fuzz_admin_key,
        protected_ids,
        "graphql",
        "--exclude-checks",
        "not_a_server_error",
    )
