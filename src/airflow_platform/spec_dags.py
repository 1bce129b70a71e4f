"""Spec files → DAGs: the loop every file-driven DAG factory shares (deployments, exports).

It runs at DAG-parse time, so it reads files only, never the metadata DB. Inside a task run only
that task's DAG is built (Airflow's parsing context), and a broken spec is logged and skipped:
one bad file must not hide every other DAG of the factory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


def read_spec(path: Path, spec_version: int, kind: str) -> dict[str, Any] | None:
    """The spec in ``path``, or None (logged) when it is unreadable or not for that DAG."""
    try:
        spec: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        log.error("Skipping %s spec %s: %s", kind, path, e)
        return None
    if spec.get("spec_version") != spec_version or spec.get("dag_id") != path.stem:
        log.error("Skipping %s spec %s: not a version-%s spec for that DAG", kind, path, spec_version)
        return None
    return spec


def build_dags(
    paths: Iterable[Path], build: Callable[[dict[str, Any]], Any], spec_version: int, kind: str
) -> dict[str, Any]:
    """``build(spec)`` for every spec file, by DAG id (only the running task's DAG in a task run)."""
    from airflow_platform.compat import get_parsing_context

    wanted = get_parsing_context().dag_id
    dags: dict[str, Any] = {}
    for path in paths:
        if wanted is not None and path.stem != wanted:
            continue
        spec = read_spec(path, spec_version, kind)
        if spec is None:
            continue
        try:
            dags[spec["dag_id"]] = build(spec)
        except Exception:  # one bad spec must not hide the others
            log.exception("Skipping %s spec %s: it does not build a DAG", kind, path)
    return dags
