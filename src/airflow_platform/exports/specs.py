"""Export spec files: what a scheduled saved query's DAG and task need, as JSON the DAG processor reads.

They live beside the DataKit deployment specs, under ``[platform] datakits_folder``::

    saved_queries/saved_query__<id>.json

and the factory file ``platform_saved_query_dags.py`` goes into the DAG folder once. Writes are
atomic (``datakits.files.write_json``), so a parser never sees half a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_platform.datakits import files

SPEC_VERSION = 1
SUBFOLDER = "saved_queries"
FACTORY_FILE = "platform_saved_query_dags.py"
FACTORY_SOURCE = '''"""Scheduled exports of saved queries as DAGs (written by airflow-platform; do not edit).

Each JSON spec under the platform's saved_queries folder becomes one DAG that runs the query and
writes the result to its destination. Parsing reads files only: no metadata-DB access.
"""

from airflow_platform.exports.dag_factory import build_dags

globals().update(build_dags())
'''
_DAG_ID = re.compile(r"^saved_query__sq_[0-9a-f]{6,32}$")


def folder(root: str | os.PathLike[str] | None = None) -> Path:
    return files.root(root) / SUBFOLDER


def spec_path(dag_id: str, root: str | os.PathLike[str] | None = None) -> Path:
    if not _DAG_ID.match(dag_id):
        raise ValueError(f"not a saved query's DAG id: {dag_id!r}")
    return folder(root) / f"{dag_id}.json"


def write_spec(spec: dict[str, Any], root: str | os.PathLike[str] | None = None) -> Path:
    path = spec_path(spec["dag_id"], root)
    files.write_json(path, {"spec_version": SPEC_VERSION, **spec})
    files.ensure_factory_file(name=FACTORY_FILE, source=FACTORY_SOURCE)
    return path


def delete_spec(dag_id: str, root: str | os.PathLike[str] | None = None) -> None:
    spec_path(dag_id, root).unlink(missing_ok=True)


def spec_files(root: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    directory = folder(root)
    if not directory.is_dir():
        return iter(())
    return iter(sorted(p for p in directory.glob("*.json") if not p.name.startswith(".")))
