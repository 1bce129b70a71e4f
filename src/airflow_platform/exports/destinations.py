"""Where scheduled exports may write, checked when a query is saved and again when a task writes.

A destination is a folder URI: ``s3://bucket/prefix/`` or ``file:///absolute/folder/``. Local
folders are where an attacker would aim (the DAG folder, Airflow's config, another tenant's
reports), so a ``file://`` destination must be plain — absolute, no ``..``, no percent-encoding,
no host, query or fragment — and lie, after symbolic links are resolved, inside one of the
``[platform] export_allowed_paths``; a tenant's inside ``<allowed>/<tenant_id>/``. The task
checks again before it writes, so a link planted after saving cannot redirect a write. Remote
destinations carry no credentials in the URI: the workers' own access decides (S3 needs
``s3fs``, e.g. the Amazon provider's ``s3fs`` extra).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from airflow_platform.exceptions import ValidationError
from airflow_platform.schemas.saved_queries import DESTINATION_SCHEMES, EXTENSIONS

__all__ = ["Destination", "file_name", "parse"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class Destination:
    #: The folder as stored and shown: ``file:///srv/exports/x`` or ``s3://bucket/prefix`` (no trailing /).
    uri: str
    scheme: str
    #: The local folder for ``file://`` destinations.
    local_path: str | None = None

    def file_uri(self, name: str) -> str:
        return f"{self.uri}/{name}"


def _refuse(uri: str, why: str, **details: object) -> ValidationError:
    return ValidationError(
        f"destination {uri!r}: {why}", details={"reason": "destination", "destination": uri, **details}
    )


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _resolved(path: str) -> str:
    """The real path of ``path``: its deepest existing ancestor resolved, the rest appended."""
    missing: list[str] = []
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        missing.append(os.path.basename(current))
        current = parent
    return os.path.join(os.path.realpath(current), *reversed(missing))


def parse(uri: str, *, allowed_paths: Sequence[str], tenant_id: str | None) -> Destination:
    """The checked destination, or a 400 that says what is wrong and what would be accepted."""
    text = uri.strip()
    if _CONTROL.search(text):
        raise _refuse(uri, "blanks, control characters and backslashes are not allowed")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DESTINATION_SCHEMES:
        raise _refuse(uri, f"use one of {', '.join(s + '://' for s in DESTINATION_SCHEMES)}")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise _refuse(uri, "a query string or fragment is not allowed")
    if "%" in text:
        raise _refuse(uri, "percent-encoded characters are not allowed")
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise _refuse(uri, "'.' and '..' segments are not allowed")
    if scheme == "s3":
        if "@" in parts.netloc or ":" in parts.netloc:
            raise _refuse(uri, "credentials, connection ids and ports are not allowed in the URI")
        if not _BUCKET.match(parts.netloc):
            raise _refuse(uri, "not a valid S3 bucket name")
        prefix = "/".join(segments)
        return Destination(uri=f"s3://{parts.netloc}" + (f"/{prefix}" if prefix else ""), scheme="s3")
    # file://
    if parts.netloc not in ("", "localhost"):
        raise _refuse(uri, "file:// destinations name a local folder: file:///absolute/folder/")
    if not parts.path.startswith("/"):
        raise _refuse(uri, "the folder must be an absolute path (file:///absolute/folder/)")
    folder = posixpath.normpath("/" + "/".join(segments))
    roots = [os.path.realpath(p) for p in allowed_paths]
    if tenant_id is not None:
        roots = [os.path.join(r, tenant_id) for r in roots]
    real = _resolved(folder)
    if not roots or not any(_within(real, r) for r in roots):
        shown = ", ".join(f"file://{r}/" for r in roots) or "(none configured)"
        raise _refuse(
            uri,
            f"local exports may only go under {shown} ([platform] export_allowed_paths"
            + (f", in the folder of tenant {tenant_id!r}" if tenant_id is not None else "")
            + ")",
            allowed=[f"file://{r}/" for r in roots],
        )
    return Destination(uri=f"file://{folder}", scheme="file", local_path=real)


def file_name(slug: str, run_date: date, output_format: str) -> str:
    """One file per run, named by the run's date: ``<slug>_<YYYY-MM-DD>.<ext>``."""
    return f"{slug}_{run_date.isoformat()}.{EXTENSIONS[output_format]}"
