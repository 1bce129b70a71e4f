"""Every error format that reaches the SDK becomes the shared exception classes."""

from __future__ import annotations

import httpx
import pytest
import respx

from airflow_platform import exceptions as exc
from airflow_platform.sdk import PlatformClient
from airflow_platform.sdk.errors import APITimeoutError, error_from_response
from tests.sdk.fakes import BASE, envelope

TENANTS = "/api/v1/platform/tenants"


def response(status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", BASE), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("AUTHENTICATION_FAILED", 401, exc.AuthenticationError),
        ("PERMISSION_DENIED", 403, exc.PermissionDeniedError),
        ("RESOURCE_NOT_FOUND", 404, exc.ResourceNotFoundError),
        ("VALIDATION_ERROR", 400, exc.ValidationError),
        ("CONFLICT", 409, exc.ConflictError),
        ("RATE_LIMIT_EXCEEDED", 429, exc.RateLimitError),
        ("INTERNAL_ERROR", 500, exc.ServerError),
        ("SERVICE_UNAVAILABLE", 503, exc.ServiceUnavailableError),
    ],
)
def test_platform_envelope(code: str, status: int, cls: type[exc.PlatformError]) -> None:
    answer = envelope(code, "DAG 'x' not found", status, request_id="req_123", dag_id="x")
    answer.request = httpx.Request("GET", BASE)
    error = error_from_response(answer)
    assert type(error) is cls
    assert (error.code, error.status, error.message) == (code, status, "DAG 'x' not found")
    assert error.details == {"dag_id": "x"}
    assert error.request_id == "req_123"


def test_envelope_code_wins_over_status() -> None:
    error = error_from_response(response(400, json={"error": {"code": "CONFLICT", "message": "m"}}))
    assert isinstance(error, exc.ConflictError)


def test_airflow2_problem_json() -> None:
    body = {
        "detail": "DAG with dag_id: 'nope' not found",
        "status": 404,
        "title": "DAG not found",
        "type": "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#NotFound",
    }
    error = error_from_response(
        response(404, json=body, headers={"Content-Type": "application/problem+json"})
    )
    assert isinstance(error, exc.ResourceNotFoundError)
    assert error.message == "DAG with dag_id: 'nope' not found"
    assert error.details["title"] == "DAG not found"
    assert error.status == 404


def test_airflow3_detail_string() -> None:
    error = error_from_response(response(409, json={"detail": "Dag run already exists"}))
    assert isinstance(error, exc.ConflictError)
    assert error.message == "Dag run already exists"


def test_airflow3_validation_list_is_a_validation_error_with_status_422() -> None:
    detail = [
        {"loc": ["body", "conf"], "msg": "Input should be a valid dictionary", "type": "dict_type"},
        {"loc": ["query", "limit"], "msg": "too big", "type": "less_than"},
    ]
    error = error_from_response(response(422, json={"detail": detail}))
    assert isinstance(error, exc.ValidationError)
    assert error.code == "VALIDATION_ERROR"
    assert error.status == 422  # the real status, not the family's 400
    assert error.message.startswith("Invalid request: body.conf: Input should be a valid dictionary")
    assert "1 more" in error.message
    assert error.details["errors"][1]["field"] == "query.limit"


def test_airflow3_detail_dict() -> None:
    error = error_from_response(
        response(409, json={"detail": {"reason": "Unique constraint", "statement": "x"}})
    )
    assert error.message == "Unique constraint"
    assert error.details["statement"] == "x"


@pytest.mark.parametrize(
    ("status", "oauth_error", "cls"),
    [
        (401, "invalid_client", exc.AuthenticationError),
        (400, "invalid_grant", exc.AuthenticationError),
        (400, "unsupported_grant_type", exc.ValidationError),
    ],
)
def test_oauth_rfc6749_errors(status: int, oauth_error: str, cls: type[exc.PlatformError]) -> None:
    error = error_from_response(
        response(status, json={"error": oauth_error, "error_description": "bad secret"})
    )
    assert type(error) is cls
    assert error.message == "bad secret"
    assert error.details == {"error": oauth_error}


def test_no_body_maps_by_status_and_keeps_the_request_id_sent() -> None:
    request = httpx.Request("GET", BASE, headers={"X-Request-ID": "req_mine"})
    error = error_from_response(httpx.Response(502, text="<html>bad gateway</html>", request=request))
    assert isinstance(error, exc.ServiceUnavailableError)
    assert error.status == 502
    assert error.request_id == "req_mine"
    assert "502" in error.message


def test_rate_limit_carries_retry_after() -> None:
    answer = envelope("RATE_LIMIT_EXCEEDED", "slow down", 429)
    answer.headers["Retry-After"] = "17"
    answer.request = httpx.Request("GET", BASE)
    error = error_from_response(answer)
    assert isinstance(error, exc.RateLimitError)
    assert error.retry_after == 17


def test_client_raises_mapped_errors_with_request_ids(api: respx.MockRouter) -> None:
    api.get(f"{TENANTS}/nope").mock(return_value=httpx.Response(404, json={"detail": "gone"}))
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.ResourceNotFoundError) as caught:
        client.tenants.get("nope")
    sent = api.calls.last.request.headers["X-Request-ID"]
    assert caught.value.request_id == sent and sent.startswith("req_")
    assert str(caught.value) == f"RESOURCE_NOT_FOUND: gone (request {sent})"


def test_connection_errors(api: respx.MockRouter, sleeps: list[float]) -> None:
    api.get(TENANTS).mock(side_effect=httpx.ConnectError("refused"))
    with (
        PlatformClient(BASE, api_key="k", max_retries=0) as client,
        pytest.raises(exc.APIConnectionError) as e,
    ):
        client.tenants.list()
    assert e.value.code == "CONNECTION_ERROR" and "refused" in e.value.message
    api.get(TENANTS).mock(side_effect=httpx.ReadTimeout("slow"))
    with PlatformClient(BASE, api_key="k", max_retries=0) as client, pytest.raises(APITimeoutError):
        client.tenants.list()


def test_client_side_validation_fails_like_the_server() -> None:
    with PlatformClient(BASE, api_key="k") as client, pytest.raises(exc.ValidationError) as caught:
        client.tenants.create("Not A DNS Label", "x")
    assert caught.value.details["errors"][0]["field"] == "tenant_id"
