"""The error envelope and X-Request-ID, on the platform's Flask app (in process)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from pydantic import BaseModel, Field

from airflow_platform.api import errors
from airflow_platform.api.app import create_app
from airflow_platform.api.blueprint import install_common_hooks
from airflow_platform.api.routing import PlatformBlueprint

ENVELOPE_KEYS = {"code", "message", "details", "request_id", "timestamp"}


class EchoBody(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=10)
    count: int = Field(ge=0)


class EchoQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100)
    tags: list[str] = []


@pytest.fixture(scope="module")
def probe_app(airflow_home) -> Flask:  # type: ignore[no-untyped-def]
    """The real app plus a probe blueprint exercising body/query parsing and a crash."""
    probe = PlatformBlueprint("probe", __name__)

    @probe.operation(
        "/api/v1/platform/_probe/echo", "POST", summary="echo", body=EchoBody, needs_schema=False, public=True
    )
    def echo(body: EchoBody) -> dict:
        return {"name": body.name, "count": body.count}

    @probe.operation(
        "/api/v1/platform/_probe/list",
        "GET",
        summary="list",
        query=EchoQuery,
        needs_schema=False,
        public=True,
    )
    def list_(query: EchoQuery) -> dict:
        return {"limit": query.limit, "tags": query.tags}

    @probe.operation("/api/v1/platform/_probe/crash", "GET", summary="crash", needs_schema=False, public=True)
    def crash() -> dict:
        raise RuntimeError("secret internals /etc/passwd")

    install_common_hooks(probe)
    app = create_app()
    app.register_blueprint(probe)
    return app


@pytest.fixture
def probe(probe_app: Flask):  # type: ignore[no-untyped-def]
    return probe_app.test_client()


def assert_envelope(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", body["error"]["timestamp"])
    return body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/platform/nope",
        "/api/v1/platform/tenants/x/y/z",
        "/api/v1/datakits/unknown/path",
        "/api/v1/analytics/nope",
        "/graphql/nope",
        "/oauth/nope",
    ],
)
def test_unknown_paths_under_our_prefixes_answer_404_envelope(client, path: str) -> None:
    error = assert_envelope(client.get(path), 404, "RESOURCE_NOT_FOUND")
    assert path in error["message"]


def test_wrong_method_answers_405_with_allow(client) -> None:
    response = client.delete("/api/v1/platform/health")
    error = assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]
    assert "DELETE" in error["message"]


def test_request_id_is_echoed_or_made(client) -> None:
    mine = client.get("/api/v1/platform/health", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["X-Request-ID"] == "abc-123"
    made = client.get("/api/v1/platform/health")
    assert re.match(r"^req_[0-9a-f]{32}$", made.headers["X-Request-ID"])
    # A hostile id (header injection, huge) is replaced, not reflected.
    hostile = client.get("/api/v1/platform/health", headers={"X-Request-ID": "<script>" + "x" * 300})
    assert hostile.headers["X-Request-ID"].startswith("req_")


def test_malformed_json_is_a_validation_error(probe) -> None:
    response = probe.post(
        "/api/v1/platform/_probe/echo", data=b'{"name": "a",', content_type="application/json"
    )
    error = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["message"].startswith("Malformed JSON body")


def test_non_object_json_is_refused(probe) -> None:
    response = probe.post("/api/v1/platform/_probe/echo", json=[1, 2])
    assert "JSON object" in assert_envelope(response, 400, "VALIDATION_ERROR")["message"]


def test_validation_failure_names_the_field_and_lists_every_problem(probe) -> None:
    response = probe.post("/api/v1/platform/_probe/echo", json={"name": "", "count": -1, "extra": 1})
    error = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["message"].startswith("Invalid request body: name:")
    fields = {p["field"] for p in error["details"]["errors"]}
    assert fields == {"name", "count", "extra"}


def test_valid_body_and_query_are_parsed(probe) -> None:
    assert probe.post("/api/v1/platform/_probe/echo", json={"name": "a", "count": 2}).get_json() == {
        "name": "a",
        "count": 2,
    }
    got = probe.get("/api/v1/platform/_probe/list?limit=5&tags=a,b&tags=c").get_json()
    assert got == {"limit": 5, "tags": ["a", "b", "c"]}
    error = assert_envelope(probe.get("/api/v1/platform/_probe/list?limit=0"), 400, "VALIDATION_ERROR")
    assert "query parameters: limit" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "count": "2"}, "count"),
        ({"name": "a", "count": True}, "count"),
        ({"name": 7, "count": 2}, "name"),
    ],
)
def test_json_bodies_are_validated_strictly(probe, body: dict, field: str) -> None:
    """What the document calls an integer or a string must be one: no "2" for 2 (found by fuzzing)."""
    error = assert_envelope(probe.post("/api/v1/platform/_probe/echo", json=body), 400, "VALIDATION_ERROR")
    assert {p["field"] for p in error["details"]["errors"]} == {field}


def test_unhandled_exception_is_500_without_trace(probe, caplog) -> None:
    response = probe.get("/api/v1/platform/_probe/crash")
    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "passwd" not in text and "RuntimeError" not in text
    assert error["request_id"] in error["message"]
    # The operator still gets the trace in the server log.
    assert any("Unhandled error" in r.getMessage() for r in caplog.records)


def test_oversized_body_is_413(probe, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__MAX_REQUEST_BYTES", "100")
    response = probe.post("/api/v1/platform/_probe/echo", data=b"x" * 500, content_type="application/json")
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_error_module_maps_every_code_to_its_status() -> None:
    from airflow_platform import exceptions as exc

    assert {c: cls.status for c, cls in exc.ERRORS_BY_CODE.items()}.items() >= {
        "AUTHENTICATION_FAILED": 401,
        "PERMISSION_DENIED": 403,
        "RESOURCE_NOT_FOUND": 404,
        "VALIDATION_ERROR": 400,
        "CONFLICT": 409,
        "RATE_LIMIT_EXCEEDED": 429,
        "INTERNAL_ERROR": 500,
        "SERVICE_UNAVAILABLE": 503,
    }.items()
    assert errors.REQUEST_ID_HEADER == "X-Request-ID"
