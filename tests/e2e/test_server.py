"""The real Airflow server with the plugin, over HTTP on loopback."""

from __future__ import annotations

from importlib.metadata import version

import httpx
import pytest

from tests import harness

pytestmark = pytest.mark.e2e


def test_health_over_http(airflow_server: harness.AirflowServer) -> None:
    response = httpx.get(f"{airflow_server.base_url}/api/v1/platform/health")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == version("airflow-platform")
    assert body["airflow_version"] == version("apache-airflow")
    assert body["metadata_db"]["status"] == "healthy"
    assert response.headers["X-Request-ID"].startswith("req_")


def test_unknown_path_is_404_envelope_over_http(airflow_server: harness.AirflowServer) -> None:
    response = httpx.get(f"{airflow_server.base_url}/api/v1/platform/nope", headers={"X-Request-ID": "e2e-1"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "e2e-1"
    error = response.json()["error"]
    assert error["code"] == "RESOURCE_NOT_FOUND" and error["request_id"] == "e2e-1"


def test_wrong_method_over_http(airflow_server: harness.AirflowServer) -> None:
    response = httpx.post(f"{airflow_server.base_url}/api/v1/platform/health", content=b"{}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_openapi_and_docs_over_http(airflow_server: harness.AirflowServer) -> None:
    doc = httpx.get(f"{airflow_server.base_url}/api/v1/platform/openapi.json").json()
    assert doc["openapi"] == "3.1.0" and "/api/v1/platform/health" in doc["paths"]
    page = httpx.get(f"{airflow_server.base_url}/api/v1/platform/docs")
    assert page.status_code == 200 and "/api/v1/platform/health" in page.text


def test_airflows_own_api_keeps_working_beside_ours(airflow_server: harness.AirflowServer) -> None:
    if harness.airflow_major() >= 3:
        response = httpx.get(f"{airflow_server.base_url}/api/v2/version")
        assert response.status_code == 200 and response.json()["version"] == version("apache-airflow")
        # /api/v1/dags is the facade of Airflow 2's calls (tests/e2e/test_v1_facade.py): it wants credentials;
        # other /api/v1 paths are not served (404 naming /api/v2).
        assert httpx.get(f"{airflow_server.base_url}/api/v1/dags").status_code == 401
        gone = httpx.get(f"{airflow_server.base_url}/api/v1/pools")
        assert gone.status_code == 404 and "/api/v2" in gone.text
    else:
        response = httpx.get(
            f"{airflow_server.base_url}/api/v1/dags", auth=(harness.ADMIN_USER, harness.ADMIN_PASSWORD)
        )
        assert response.status_code == 200 and "dags" in response.json()


@pytest.mark.postgres
def test_server_on_a_postgres_metadata_db(postgres_airflow_server: harness.AirflowServer) -> None:
    body = httpx.get(f"{postgres_airflow_server.base_url}/api/v1/platform/health").json()
    assert body["metadata_db"]["dialect"] == "postgresql"
    assert body["metadata_db"]["status"] == "healthy"


def test_datakits_and_graphql_on_postgres(postgres_airflow_server: harness.AirflowServer) -> None:
    """The SQL that reads Airflow's own tables (deployment status, GraphQL metrics) on PostgreSQL."""
    from tests.actors import MADE_SECRETS

    key = harness.create_key(postgres_airflow_server.env, harness.ADMIN_USER, "--name", "pg")
    MADE_SECRETS.append(key)
    kit = {"name": "pg-kit", "version": "1.0.0", "image": "registry.localhost/kits/pg:1.0.0",
           "inputs": [{"name": "customers"}], "outputs": [{"name": "clean"}]}  # fmt: skip
    with httpx.Client(base_url=postgres_airflow_server.base_url, headers={"X-API-Key": key}, timeout=30) as c:
        assert c.post("/api/v1/datakits", json=kit).status_code == 201
        assert c.post("/api/v1/datakits/pg-kit/deploy", json={"environment": "pg"}).status_code == 201
        status = c.get("/api/v1/datakits/deployments/datakit__pg-kit__pg")
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "pending" and status.json()["history"][0]["action"] == "deploy"
        metrics = c.post(
            "/graphql",
            json={
                "query": '{ metrics(startDate: "2000-01-01T00:00:00Z", endDate: "2100-01-01T00:00:00Z") '
                "{ totalRuns successRate averageDuration } }"
            },
        )
        assert metrics.status_code == 200 and not metrics.json().get("errors"), metrics.text
        assert metrics.json()["data"]["metrics"]["totalRuns"] >= 0
