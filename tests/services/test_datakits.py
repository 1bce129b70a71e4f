"""The DataKit list in-process on the session's metadata DB: one statement per page must answer what
the kit-by-kit reads answer (latest manifest, registry facts), behind the same tenant walls, with
the same totals when paging, past the end, by tag, type and search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.datakits import DataKit, DataKitManifest
from airflow_platform.services.datakits import DataKitService

ADMIN = Principal("admin", None, None, frozenset({"*"}), "api_key", True)


def tenant(tenant_id: str) -> Principal:
    return Principal(f"op-{tenant_id}", None, tenant_id, frozenset({"*"}), "api_key")


def manifest(name: str, version: str, **changes: Any) -> DataKitManifest:
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": f"{name} at {version}",
        "image": f"registry.local/kits/{name}:{version}",
        "inputs": [{"name": "raw"}],
        "outputs": [{"name": "clean", "schema": "gold"}],
        "configuration": {"batch": {"type": "integer", "default": 10, "minimum": 1.5}},
        "requirements": {"cpu": "500m"},
        "tags": ["one"],
    }
    body.update(changes)
    return DataKitManifest.model_validate(body)


@pytest.fixture(scope="module")
def seeded(
    airflow_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DataKitService, str]]:
    """Kits under a unique prefix: shared ones, team-a's, team-b's, some with several versions
    registered out of order, so the latest is not the last written. The session DB is shared with
    the HTTP tests (which count kits by type), so they are deleted afterwards."""
    service = DataKitService(tenant_limits=lambda _tenant: {}, folder=str(tmp_path_factory.mktemp("kits")))
    prefix = f"lst{uuid.uuid4().hex[:8]}"
    a, b = tenant(f"{prefix}-a"), tenant(f"{prefix}-b")
    service.register(ADMIN, manifest(f"{prefix}-shared", "1.0.0", tags=["one", "shared"]))
    for version in ("1.0.0", "2.0.0", "1.5.0", "2.1.0-rc.1"):
        service.register(a, manifest(f"{prefix}-a-multi", version, tags=["one", f"v{version[0]}"]))
    for i in range(5):
        service.register(a, manifest(f"{prefix}-a-{i}", "0.1.0", type="ingestion" if i % 2 else "export"))
    service.register(b, manifest(f"{prefix}-b-only", "3.0.0", tags=["one", "two"]))
    yield service, prefix
    for kit in service.list(ADMIN, 100, 0, search=prefix)[0]:
        for version in service.get(ADMIN, kit.name).versions:
            service.delete_version(ADMIN, kit.name, version.version)
    assert service.list(ADMIN, 100, 0, search=prefix) == ([], 0)


def expected(service: DataKitService, principal: Principal, names: list[str]) -> list[DataKit]:
    """What the kit-by-kit read says, without the version history the list leaves out."""
    return [service.get(principal, name).model_copy(update={"versions": []}) for name in names]


def test_list_equals_kit_by_kit_reads_behind_tenant_walls(seeded: tuple[DataKitService, str]) -> None:
    service, prefix = seeded
    a_names = [f"{prefix}-a-{i}" for i in range(5)] + [f"{prefix}-a-multi"]
    cases = {
        ADMIN: sorted([*a_names, f"{prefix}-b-only", f"{prefix}-shared"]),
        tenant(f"{prefix}-a"): sorted([*a_names, f"{prefix}-shared"]),
        tenant(f"{prefix}-b"): sorted([f"{prefix}-b-only", f"{prefix}-shared"]),
        tenant(f"{prefix}-c"): [f"{prefix}-shared"],
    }
    for principal, names in cases.items():
        items, total = service.list(principal, 100, 0, search=prefix)
        assert [k.name for k in items] == names and total == len(names)
        assert items == expected(service, principal, names)
        # Byte for byte on the wire too (timestamps, floats, key order).
        assert [k.model_dump_json() for k in items] == [
            k.model_dump_json() for k in expected(service, principal, names)
        ]
    multi = next(k for k in service.list(ADMIN, 100, 0, search=f"{prefix}-a-multi")[0])
    assert multi.version == multi.latest_version == "2.0.0" and multi.tags == ["one", "v2"]


def test_pages_totals_and_past_the_end(seeded: tuple[DataKitService, str]) -> None:
    service, prefix = seeded
    everything, total = service.list(ADMIN, 100, 0, search=prefix)
    assert total == len(everything) == 8
    pages = [service.list(ADMIN, 3, offset, search=prefix) for offset in range(0, 9, 3)]
    assert [k for items, _ in pages for k in items] == everything
    assert {t for _, t in pages} == {8}
    assert service.list(ADMIN, 3, 50, search=prefix) == ([], 8)
    assert service.list(ADMIN, 3, 0, search=f"{prefix}-nothing") == ([], 0)
    assert service.list(tenant(f"{prefix}-b"), 1, 1, search=prefix)[1] == 2


def test_filters_by_tags_type_and_search(seeded: tuple[DataKitService, str]) -> None:
    service, prefix = seeded
    items, total = service.list(ADMIN, 100, 0, tags=["one", "two"], search=prefix)
    assert [k.name for k in items] == [f"{prefix}-b-only"] and total == 1
    assert service.list(tenant(f"{prefix}-a"), 100, 0, tags=["two"], search=prefix) == ([], 0)
    tagged, total = service.list(ADMIN, 2, 1, tags=["one"], search=prefix)
    assert total == 8 and [k.name for k in tagged] == [f"{prefix}-a-1", f"{prefix}-a-2"]
    assert service.list(ADMIN, 2, 40, tags=["one"], search=prefix) == ([], 8)
    ingestion, total = service.list(ADMIN, 100, 0, type_="ingestion", search=prefix)
    assert [k.name for k in ingestion] == [f"{prefix}-a-1", f"{prefix}-a-3"] and total == 2
    assert service.list(ADMIN, 100, 0, search=f"{prefix}-A-MULTI")[1] == 1  # case-insensitive
    assert service.list(ADMIN, 100, 0, search=f"{prefix}_a")[1] == 0  # LIKE wildcards are literal


def test_a_page_asked_again_reuses_its_models_and_sees_every_change(
    airflow_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Listed models are kept by everything their row holds: the same page again is built from the
    cache, and a new version, or a version deleted and registered again with other content, shows."""
    service = DataKitService(tenant_limits=lambda _tenant: {}, folder=str(tmp_path_factory.mktemp("kits")))
    name = f"cache{uuid.uuid4().hex[:8]}"
    try:
        service.register(ADMIN, manifest(name, "1.0.0"))
        first = service.list(ADMIN, 10, 0, search=name)[0]
        again = service.list(ADMIN, 10, 0, search=name)[0]
        assert [k.version for k in first] == ["1.0.0"] and again[0] is first[0]
        service.register(ADMIN, manifest(name, "1.1.0", description="newer"))
        newer = service.list(ADMIN, 10, 0, search=name)[0]
        assert (newer[0].version, newer[0].description) == ("1.1.0", "newer")
        service.delete_version(ADMIN, name, "1.1.0")
        service.register(ADMIN, manifest(name, "1.1.0", description="other content"))
        assert service.list(ADMIN, 10, 0, search=name)[0][0].description == "other content"
    finally:
        for version in ("1.1.0", "1.0.0"):
            service.delete_version(ADMIN, name, version)
