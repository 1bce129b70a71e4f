"""``GET /api/v1/platform/health`` in process: versions, DB state, warehouse state."""

from __future__ import annotations

from importlib.metadata import version

import duckdb
import sqlalchemy as sa

from airflow_platform import compat
from airflow_platform.analytics import warehouse
from airflow_platform.services.health import HealthService
from airflow_platform.storage.migrator import Migrator


def test_health_reports_versions_db_and_warehouse(client) -> None:
    response = client.get("/api/v1/platform/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == version("airflow-platform")
    assert body["airflow_version"] == version("apache-airflow")
    assert body["metadata_db"]["status"] == "healthy"
    assert body["metadata_db"]["schema_revision"] == body["metadata_db"]["expected_revision"]
    assert body["warehouse"]["status"] in ("absent", "healthy")
    assert body["status"] == "healthy"


def test_outdated_schema_is_reported(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")
    service = HealthService(
        engine=lambda: engine, airflow_version="x", warehouse_probe=lambda: warehouse.probe("/nope")
    )
    health = service.check()
    assert health.metadata_db.status == "outdated"
    assert health.metadata_db.schema_revision is None
    assert health.metadata_db.expected_revision == Migrator(engine).head()
    assert health.status == "degraded"


def test_unreachable_db_answers_503_envelope(client, monkeypatch) -> None:
    broken = sa.create_engine(
        "postgresql+psycopg2://nobody:x@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    monkeypatch.setattr(compat, "metadata_engine", lambda: broken)
    response = client.get("/api/v1/platform/health")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"]["metadata_db"]["status"] == "unhealthy"
    assert "nobody" not in response.get_data(as_text=True)


def test_warehouse_probe_states(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    assert warehouse.probe(str(path)).status == "absent"
    duckdb.connect(str(path)).close()
    assert warehouse.probe(str(path)).status == "healthy"
    path.write_bytes(b"not a duckdb file at all" * 100)
    broken = warehouse.probe(str(path), lock_wait_s=0.1)
    assert broken.status == "unhealthy" and broken.detail
