"""Export destinations: what a caller may name, and what an attacker would try instead."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from airflow_platform.exceptions import ValidationError
from airflow_platform.exports.destinations import file_name, parse
from airflow_platform.schemas.saved_queries import slugify


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "exports"
    path.mkdir()
    return path


def test_s3_destinations_are_normalised() -> None:
    assert parse("s3://reports/monthly/", allowed_paths=[], tenant_id=None).uri == "s3://reports/monthly"
    assert parse("S3://reports", allowed_paths=[], tenant_id="team-a").uri == "s3://reports"
    assert parse("s3://my.bucket-1/a/b/", allowed_paths=[], tenant_id=None).scheme == "s3"


def test_file_destinations_under_the_allowed_folder(root: Path) -> None:
    got = parse(f"file://{root}/monthly/", allowed_paths=[str(root)], tenant_id=None)
    assert got.uri == f"file://{root}/monthly" and got.local_path == str(root / "monthly")
    assert parse(f"file://localhost{root}", allowed_paths=[str(root)], tenant_id=None).uri == f"file://{root}"
    # A tenant's exports go into the tenant's own folder, nowhere else.
    mine = parse(f"file://{root}/team-a/x", allowed_paths=[str(root)], tenant_id="team-a")
    assert mine.local_path == str(root / "team-a" / "x")
    for elsewhere in (f"file://{root}/team-b/x", f"file://{root}/x", f"file://{root}"):
        with pytest.raises(ValidationError, match="team-a"):
            parse(elsewhere, allowed_paths=[str(root)], tenant_id="team-a")


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("http://example.com/x", "use one of"),
        ("ftp://example.com/x", "use one of"),
        ("gs://bucket/x", "use one of"),
        ("memory://x", "use one of"),
        ("/etc/cron.d", "use one of"),
        ("relative/folder", "use one of"),
        ("file://relative/folder", "local folder"),
        ("file://evil.example.com/share", "local folder"),
        ("file:///etc/cron.d", "only go under"),
        ("file:///", "only go under"),
        ("file://{root}/../../etc", "'..'"),
        ("file://{root}/a/./b", "'.'"),
        ("file://{root}/%2e%2e/etc", "percent"),
        ("file://{root}/a?x=1", "query"),
        ("file://{root}/a#frag", "fragment"),
        ("file://{root}/a b", "blanks"),
        ("file://{root}/a\\..\\b", "backslash"),
        ("file://{root}/a\x00b", "control"),
        ("s3://key:secret@bucket/x", "credentials"),
        ("s3://aws_default@bucket/x", "credentials"),
        ("s3://Bad_Bucket/x", "bucket"),
        ("s3://bucket/../other", "'..'"),
    ],
)
def test_refused_destinations(root: Path, uri: str, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        parse(uri.replace("{root}", str(root)), allowed_paths=[str(root)], tenant_id=None)


def test_a_link_out_of_the_allowed_folder_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(ValidationError, match="only go under"):
        parse(f"file://{root}/link/reports", allowed_paths=[str(root)], tenant_id=None)
    # A link inside the folder that stays inside is fine (resolved to where it points).
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    got = parse(f"file://{root}/alias/x", allowed_paths=[str(root)], tenant_id=None)
    assert got.local_path == str(root / "real" / "x")


def test_no_allowed_folder_means_no_local_exports(root: Path) -> None:
    with pytest.raises(ValidationError, match="none configured"):
        parse(f"file://{root}/x", allowed_paths=[], tenant_id=None)


def test_file_names_and_slugs() -> None:
    assert slugify("Monthly Revenue Report") == "monthly-revenue-report"
    assert slugify("  ../Ünïcode & co!! 2024 ") == "n-code-co-2024"
    assert slugify("???") == ""
    assert (
        file_name("monthly-revenue-report", date(2024, 3, 1), "csv")
        == "monthly-revenue-report_2024-03-01.csv"
    )
    assert file_name("x", date(2024, 3, 1), "parquet").endswith(".parquet")
    assert file_name("x", date(2024, 3, 1), "json").endswith(".json")
