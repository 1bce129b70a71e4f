"""Turns every failure into the reference's error envelope.

Registered on the platform blueprint (so on Airflow 2 it never touches Airflow's own views) and
on the standalone app (Airflow 3, tests).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Response, g, request
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import HTTPException

from airflow_platform import exceptions as exc

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_HTTP_TO_ERROR: dict[int, type[exc.PlatformError]] = {
    400: exc.ValidationError,
    401: exc.AuthenticationError,
    403: exc.PermissionDeniedError,
    404: exc.ResourceNotFoundError,
    405: exc.MethodNotAllowedError,
    409: exc.ConflictError,
    413: exc.PayloadTooLargeError,
    429: exc.RateLimitError,
    503: exc.ServiceUnavailableError,
}


def request_id() -> str:
    """The caller's X-Request-ID when it is sane, else a new one; fixed for the request."""
    rid = g.get("platform_request_id")
    if rid is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        rid = given if _SAFE_REQUEST_ID.match(given) else f"req_{uuid.uuid4().hex}"
        g.platform_request_id = rid
    return str(rid)


def envelope(error: exc.PlatformError) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "request_id": request_id(),
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        }
    }


def error_response(error: exc.PlatformError) -> Response:
    from airflow_platform.api.responses import json_response

    response = json_response(envelope(error), status=error.status)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def validation_error(error: PydanticValidationError, where: str) -> exc.ValidationError:
    """A readable message naming the first bad field, and every problem in ``details``."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in item["loc"])
        problems.append({"field": loc or where, "message": item["msg"], "type": item["type"]})
    first = problems[0] if problems else {"field": where, "message": "invalid"}
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return exc.ValidationError(
        f"Invalid {where}: {first['field']}: {first['message']}{more}",
        details={"errors": problems},
    )


def handle_platform_error(error: exc.PlatformError) -> Response:
    return error_response(error)


def handle_http_exception(error: HTTPException) -> Response:
    code = error.code or 500
    cls = _HTTP_TO_ERROR.get(code, exc.ServerError)
    message = error.description or error.name
    platform_error = cls(str(message))
    if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        platform_error.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if code >= 500:
        platform_error = exc.ServerError("An internal error occurred.")
    return error_response(platform_error)


def handle_unexpected(error: Exception) -> Response:
    """Log the trace for operators; tell the caller only the request id."""
    from sqlalchemy.exc import OperationalError

    rid = request_id()
    if isinstance(error, OperationalError):
        log.warning("Metadata DB unavailable (request %s): %s", rid, type(error).__name__)
        return error_response(
            exc.ServiceUnavailableError("The metadata database is unavailable; try again shortly.")
        )
    log.exception("Unhandled error in the platform API (request %s)", rid)
    return error_response(
        exc.ServerError(f"An internal error occurred. Quote request id {rid} when reporting it.")
    )


def add_request_id_header(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def register(target: Any) -> None:
    """Install the handlers on a Flask app or blueprint.

    On an app that also holds the platform blueprint, the app's own header hooks leave the
    blueprint's requests alone (the blueprint's hooks did it already)."""
    from airflow_platform.api.guard import add_rate_limit_headers

    target.register_error_handler(exc.PlatformError, handle_platform_error)
    target.register_error_handler(HTTPException, handle_http_exception)
    target.register_error_handler(Exception, handle_unexpected)
    if hasattr(target, "blueprints"):  # an app

        def add_headers_outside_blueprints(response: Response) -> Response:
            if request.blueprint is None:
                add_rate_limit_headers(add_request_id_header(response))
            return response

        target.after_request(add_headers_outside_blueprints)
    else:
        target.after_request(add_request_id_header)
        target.after_request(add_rate_limit_headers)
