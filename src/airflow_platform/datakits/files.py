"""The registry's files: manifests and deployment specs, where DAG parsing and tasks can read them.

Airflow 3 forbids metadata-DB access while parsing DAGs and inside tasks, so everything a
deployment's DAG and its task need is written here as plain JSON when the API changes it (the DB
stays the source of truth for the API). Layout under ``[platform] datakits_folder``::

    manifests/<name>/<version>.json     a registered version (immutable)
    deployments/<dag_id>.json           a deployment spec (the DAG factory reads these)

Writes are atomic (temp file + rename), so a parser never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_platform.exceptions import ResourceNotFoundError

SPEC_VERSION = 1
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,249}$")
#: The DAG file that turns specs into DAGs. It is tiny on purpose: the logic lives in the package,
#: so upgrading the package upgrades every deployment's DAG.
FACTORY_FILE = "platform_datakit_dags.py"
FACTORY_SOURCE = '''"""DataKit deployments as DAGs (written by airflow-platform; do not edit).

Each JSON spec under the platform's datakits folder becomes one DAG running DataKitOperator.
Parsing reads files only: no metadata-DB access.
"""

from airflow_platform.datakits.dag_factory import build_dags

globals().update(build_dags())
'''


def root(folder: str | os.PathLike[str] | None = None) -> Path:
    if folder is not None:
        return Path(folder)
    from airflow_platform import config

    return Path(config.datakits_folder())


def _safe(part: str) -> str:
    # Names and versions are validated by the schemas; this guards the file system regardless.
    if not _SAFE.match(part) or ".." in part:
        raise ValueError(f"unsafe file name part {part!r}")
    return part


def manifest_path(name: str, version: str, folder: str | os.PathLike[str] | None = None) -> Path:
    return root(folder) / "manifests" / _safe(name) / f"{_safe(version)}.json"


def spec_path(dag_id: str, folder: str | os.PathLike[str] | None = None) -> Path:
    return root(folder) / "deployments" / f"{_safe(dag_id)}.json"


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=1, sort_keys=True, default=str)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(manifest: dict[str, Any], folder: str | os.PathLike[str] | None = None) -> Path:
    path = manifest_path(manifest["name"], manifest["version"], folder)
    write_json(path, manifest)
    return path


def read_manifest(name: str, version: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A registered manifest, for a task that names a kit (``DataKitOperator(datakit=, version=)``)."""
    try:
        path = manifest_path(name, version, folder)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise ResourceNotFoundError(
            f"DataKit {name!r} version {version!r} is not registered (no manifest under {root(folder)}).",
            details={"datakit": name, "version": version},
        )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def delete_manifest(name: str, version: str, folder: str | os.PathLike[str] | None = None) -> None:
    path = manifest_path(name, version, folder)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # other versions remain
        path.parent.rmdir()


def write_spec(spec: dict[str, Any], folder: str | os.PathLike[str] | None = None) -> Path:
    path = spec_path(spec["dag_id"], folder)
    write_json(path, {"spec_version": SPEC_VERSION, **spec})
    ensure_factory_file()
    return path


def delete_spec(dag_id: str, folder: str | os.PathLike[str] | None = None) -> None:
    spec_path(dag_id, folder).unlink(missing_ok=True)


def spec_files(folder: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    directory = root(folder) / "deployments"
    if not directory.is_dir():
        return iter(())
    return iter(sorted(p for p in directory.glob("*.json") if not p.name.startswith(".")))


def ensure_factory_file(
    dags_folder: str | os.PathLike[str] | None = None,
    *,
    name: str = FACTORY_FILE,
    source: str = FACTORY_SOURCE,
) -> Path:
    """Put a factory DAG file (by default the deployments') in the DAG folder once; rewrite it only
    if its content changed."""
    if dags_folder is None:
        from airflow_platform import config

        dags_folder = config.dags_folder()
    path = Path(dags_folder) / name
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    return path
