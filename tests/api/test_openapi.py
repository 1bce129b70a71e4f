"""The OpenAPI document is valid 3.1, generated from the models, and the docs page renders it."""

from __future__ import annotations

from openapi_spec_validator import validate

from airflow_platform.api.blueprint import platform_operations


def test_document_is_valid_openapi_31(client) -> None:
    doc = client.get("/api/v1/platform/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_operation_is_documented_with_its_models(client) -> None:
    doc = client.get("/api/v1/platform/openapi.json").get_json()
    for op in platform_operations():
        item = doc["paths"][op.openapi_path][op.method.lower()]
        assert item["summary"] == op.summary
        if op.response is not None:
            for status in (op.status, *op.also_status):
                ref = item["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]
                assert ref.split("/")[-1] in doc["components"]["schemas"]
        assert "ErrorEnvelope" in str(item["responses"]["500"])
    # A create that may update instead documents both answers (the fuzzer found the 200 undocumented).
    deploy = doc["paths"]["/api/v1/datakits/{datakit_id}/deploy"]["post"]["responses"]
    register = doc["paths"]["/api/v1/datakits"]["post"]["responses"]
    assert {"200", "201"} <= set(deploy) and {"200", "201"} <= set(register)
    health = doc["components"]["schemas"]["HealthResponse"]
    assert {"version", "airflow_version", "metadata_db", "warehouse"} <= set(health["properties"])


def test_docs_page_lists_every_path(client) -> None:
    response = client.get("/api/v1/platform/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for op in platform_operations():
        assert op.openapi_path in html
    assert "<script" not in html  # nothing to fetch from a CDN


def test_docs_page_can_be_turned_off(client, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__ENABLE_DOCS", "False")
    assert client.get("/api/v1/platform/docs").status_code == 404
