"""One exception hierarchy for both sides of the wire.

The server raises these from its services and the API layer turns them into the error envelope;
the SDK turns an envelope back into the same class. Each class carries its error code and HTTP
status, so the mapping lives here and nowhere else.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PlatformError(Exception):
    """Base of every error the platform reports."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.headers: dict[str, str] = headers or {}

    def __str__(self) -> str:
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{suffix}"


class AuthenticationError(PlatformError):
    code = "AUTHENTICATION_FAILED"
    status = 401


class PermissionDeniedError(PlatformError):
    code = "PERMISSION_DENIED"
    status = 403


class ResourceNotFoundError(PlatformError):
    code = "RESOURCE_NOT_FOUND"
    status = 404


class MethodNotAllowedError(PlatformError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class ValidationError(PlatformError):
    code = "VALIDATION_ERROR"
    status = 400


class ConflictError(PlatformError):
    code = "CONFLICT"
    status = 409


class PayloadTooLargeError(PlatformError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class RateLimitError(PlatformError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(PlatformError):
    code = "INTERNAL_ERROR"
    status = 500


class ServiceUnavailableError(PlatformError):
    code = "SERVICE_UNAVAILABLE"
    status = 503


class APIConnectionError(PlatformError):
    """The SDK could not reach the server at all (no HTTP status)."""

    code = "CONNECTION_ERROR"
    status = 0


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's timeout (raised by the SDK, never sent)."""

    code = "TIMEOUT"


class UnsupportedFeatureError(PlatformError):
    """The server's Airflow cannot do this at all (e.g. backfills over Airflow 2.11's REST API)."""

    code = "NOT_SUPPORTED"
    status = 501


#: Every error code the wire uses, to the class that stands for it.
ERRORS_BY_CODE: dict[str, type[PlatformError]] = {
    cls.code: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        ResourceNotFoundError,
        MethodNotAllowedError,
        ValidationError,
        ConflictError,
        PayloadTooLargeError,
        RateLimitError,
        ServerError,
        ServiceUnavailableError,
    )
}

#: HTTP status to class, for answers that carry no envelope (Airflow's own API, proxies).
ERRORS_BY_STATUS: dict[int, type[PlatformError]] = {cls.status: cls for cls in ERRORS_BY_CODE.values()}
ERRORS_BY_STATUS[422] = ValidationError
