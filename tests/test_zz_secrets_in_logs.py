"""Runs last (by name): no secret made during the run appears in any log line.

Covers every server log the suite wrote (under the run's artifact folder) and every log record
of the test process itself.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CAPTURED_LOG_LINES
from tests.e2e.conftest import MADE_SECRETS


def test_no_secret_in_any_log(artifacts_dir: Path) -> None:
    secrets = [s for s in MADE_SECRETS if s and len(s) >= 8]
    assert secrets, "the suite made no secrets to look for"
    logs = {p.name: p.read_text(errors="replace") for p in artifacts_dir.glob("*.log")}
    logs["test process"] = "\n".join(CAPTURED_LOG_LINES)
    leaks = [(name, s[:8] + "…") for name, text in logs.items() for s in secrets if s in text]
    assert not leaks, f"secrets found in logs: {leaks}"
