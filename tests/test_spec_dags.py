"""The loop shared by the file-driven DAG factories: bad files are skipped, good ones still build."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from airflow_platform import spec_dags


def write(folder: Path, name: str, body: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_broken_specs_are_skipped_and_logged(tmp_path: Path) -> None:
    paths = [
        write(tmp_path, "good", {"spec_version": 1, "dag_id": "good"}),
        write(tmp_path, "not_json", "{"),
        write(tmp_path, "old_version", {"spec_version": 0, "dag_id": "old_version"}),
        write(tmp_path, "renamed", {"spec_version": 1, "dag_id": "other"}),
        write(tmp_path, "explodes", {"spec_version": 1, "dag_id": "explodes"}),
    ]

    def build(spec: dict) -> str:
        if spec["dag_id"] == "explodes":
            raise ValueError("boom")
        return f"DAG {spec['dag_id']}"

    handler = _Lines()
    spec_dags.log.addHandler(handler)  # Airflow's logging setup may not propagate to pytest's capture
    try:
        assert spec_dags.build_dags(paths, build, 1, "test") == {"good": "DAG good"}
    finally:
        spec_dags.log.removeHandler(handler)
    logged = "\n".join(handler.lines)
    for name in ("not_json", "old_version", "renamed", "explodes"):
        assert f"{name}.json" in logged
