"""One function that turns an HTTP error answer into a typed exception, whoever wrote the answer.

Four formats reach the SDK: the platform's envelope ``{"error": {code, message, details,
request_id}}``; Airflow 2.11's problem+json ``{"title", "detail", "status", "type"}``; Airflow 3's
FastAPI ``{"detail": str | list | dict}``; and RFC 6749 ``{"error": "invalid_client",
"error_description"}`` from ``/oauth/token``. All of them become the shared classes of
:mod:`airflow_platform.exceptions`, so callers catch ``ResourceNotFoundError`` whichever server part
answered.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from airflow_platform import exceptions as exc
from airflow_platform.exceptions import APITimeoutError, UnsupportedFeatureError
from airflow_platform.sdk.retries import retry_after_seconds

__all__ = ["APITimeoutError", "UnsupportedFeatureError", "connection_error", "error_from_response"]

#: RFC 6749 §5.2 error codes that mean "your credentials are wrong".
_OAUTH_AUTH_ERRORS = frozenset({"invalid_client", "invalid_grant", "unauthorized_client"})
_EXTRA_STATUSES: dict[int, type[exc.PlatformError]] = {
    408: exc.ServiceUnavailableError,
    410: exc.ResourceNotFoundError,
    502: exc.ServiceUnavailableError,
    504: exc.ServiceUnavailableError,
}


def _class_for_status(status: int) -> type[exc.PlatformError]:
    cls = exc.ERRORS_BY_STATUS.get(status) or _EXTRA_STATUSES.get(status)
    if cls is not None:
        return cls
    return exc.ServerError if status >= 500 else exc.ValidationError


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _fastapi_detail(detail: Any) -> tuple[str, dict[str, Any]]:
    """Airflow 3 sends a string, a list of pydantic problems (422), or a dict."""
    if isinstance(detail, str):
        return detail, {}
    if isinstance(detail, list) and detail:
        problems = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(part) for part in item.get("loc", []))
                problems.append({"field": loc, "message": item.get("msg", ""), "type": item.get("type", "")})
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            return f"Invalid request: {first['field']}: {first['message']}{more}", {"errors": problems}
    if isinstance(detail, dict):
        message = detail.get("reason") or detail.get("message") or json.dumps(detail, default=str)
        return str(message), detail
    return str(detail), {}


def _parse(
    status: int, body: Any, reason: str
) -> tuple[type[exc.PlatformError], str, dict[str, Any], str | None]:
    """(class, message, details, request id) from any of the four formats."""
    cls = _class_for_status(status)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "code" in error:  # the platform's envelope
            code_cls = exc.ERRORS_BY_CODE.get(str(error["code"]), cls)
            details = error.get("details") if isinstance(error.get("details"), dict) else {}
            return code_cls, str(error.get("message") or reason), details or {}, error.get("request_id")
        if isinstance(error, str):  # RFC 6749 §5.2
            if status == 401 or error in _OAUTH_AUTH_ERRORS:
                cls = exc.AuthenticationError
            message = str(body.get("error_description") or error)
            return cls, message, {"error": error}, None
        if "title" in body and "status" in body:  # Airflow 2.11 problem+json
            message = str(body.get("detail") or body["title"])
            details = {k: body[k] for k in ("title", "type", "instance") if body.get(k)}
            return cls, message, details, None
        if "detail" in body:  # Airflow 3 FastAPI
            message, details = _fastapi_detail(body["detail"])
            return cls, message, details, None
    return cls, f"HTTP {status} {reason}".strip(), {}, None


def error_from_response(response: httpx.Response) -> exc.PlatformError:
    """The exception for a non-2xx answer, with ``code``, ``message``, ``details``,
    ``request_id`` (the envelope's, else the ``X-Request-ID`` the SDK sent) and ``status``."""
    status = response.status_code
    cls, message, details, request_id = _parse(status, _body(response), response.reason_phrase)
    request_id = (
        request_id
        or response.headers.get("X-Request-ID")
        or (response.request.headers.get("X-Request-ID") if _has_request(response) else None)
    )
    headers = dict(response.headers)
    error: exc.PlatformError
    if issubclass(cls, exc.RateLimitError):
        error = cls(
            message,
            retry_after=retry_after_seconds(response.headers),
            details=details,
            request_id=request_id,
            headers=headers,
        )
    else:
        error = cls(message, details=details, request_id=request_id, headers=headers)
    if status != cls.status:
        # The class stands for a family (422 is a ValidationError); keep the real status too.
        error.__dict__["status"] = status
    return error


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises when the response was built by hand
    except RuntimeError:
        return False
    return True


def connection_error(error: httpx.TransportError, url: str) -> exc.APIConnectionError:
    """A transport failure as the shared ``APIConnectionError`` (``APITimeoutError`` for timeouts)."""
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"Timed out talking to {url}: {type(error).__name__}")
    reason = str(error) or type(error).__name__
    return exc.APIConnectionError(f"Could not reach {url}: {reason}")
