"""``/graphql``: authenticate → rate limit → run the operation, with the platform's error codes.

The HTTP part is Strawberry's own view (GET/POST bodies, GraphiQL); ours wraps it the way every
REST operation is wrapped (``api/guard.py``): the credentials are checked before any GraphQL is
run, the request counts against the caller's rate limit (a mutation as a write, a query as a
read), and each field then asks Airflow's auth manager about its own resource.

Resolvers are ``async`` only so that Strawberry's DataLoader can batch them; the operation runs
on a private event loop in the request's thread (``asyncio.run``), which keeps Flask's request
context (a context variable) visible to the resolvers.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any, cast

import orjson
from flask import Request, Response, g, request
from graphql.error import GraphQLSyntaxError
from strawberry.flask.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from airflow_platform import exceptions as exc
from airflow_platform.api.errors import envelope, request_id
from airflow_platform.graphql.context import GraphQLContext
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"


def _error_extensions(error: GraphQLError) -> tuple[str, dict[str, Any]]:
    """The message and ``extensions`` a caller sees; never a stack trace."""
    from sqlalchemy.exc import OperationalError

    original = error.original_error
    rid = request_id()
    if isinstance(original, exc.PlatformError):
        return original.message, {"code": original.code, "details": original.details, "request_id": rid}
    if original is None:  # a syntax, validation, depth or size error of the document itself
        return error.message, {"code": exc.ValidationError.code, "details": {}, "request_id": rid}
    if isinstance(original, OperationalError):
        log.warning("Metadata DB unavailable (request %s): %s", rid, type(original).__name__)
        message = "The metadata database is unavailable; try again shortly."
        return message, {"code": exc.ServiceUnavailableError.code, "details": {}, "request_id": rid}
    log.error("Unhandled error in GraphQL (request %s)", rid, exc_info=original)
    message = f"An internal error occurred. Quote request id {rid} when reporting it."
    return message, {"code": exc.ServerError.code, "details": {}, "request_id": rid}


def format_error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["message"], formatted["extensions"] = _error_extensions(error)
    return formatted


class PlatformGraphQLView(AsyncGraphQLView):
    """Strawberry's Flask view with the platform's error codes in ``extensions.code``."""

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(e) for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, default=str)


@cache
def _view() -> PlatformGraphQLView:
    from airflow_platform.graphql.schema import build_schema

    return PlatformGraphQLView(schema=build_schema(), graphql_ide="graphiql", allow_queries_via_get=True)


def _error_response(error: exc.PlatformError) -> Response:
    """A GraphQL-shaped body that is also the platform's error envelope (SDKs read either)."""
    extensions = {"code": error.code, "details": error.details, "request_id": request_id()}
    body = {"data": None, "errors": [{"message": error.message, "extensions": extensions}], **envelope(error)}
    response = Response(orjson.dumps(body), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _document_text() -> str | None:
    if request.method == "GET":
        return request.args.get("query")
    body = request.get_json(silent=True, cache=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("query"), str):
        return str(body["query"])
    return None


def _is_mutation(text: str | None) -> bool:
    """Whether the request would write: then it draws on the write budget, like a REST POST."""
    if not text:
        return False
    try:
        document = parse(text, max_tokens=20_000)
    except GraphQLSyntaxError:
        return False
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation == OperationType.MUTATION
        for d in document.definitions
    )


def _rate_limit(identity: str, write: bool) -> None:
    from airflow_platform.auth.rate_limit import RequestClass, get_limiter

    limiter = get_limiter()
    if limiter is None:
        return
    decision = limiter.hit(identity, RequestClass.WRITE if write else RequestClass.GET)
    g.platform_rate_headers = decision.headers()
    if not decision.allowed:
        raise decision.error()


def _wants_graphiql() -> bool:
    return (
        request.method == "GET"
        and "query" not in request.args
        and "text/html" in (request.headers.get("Accept") or "")
    )


def graphql_endpoint() -> Response:
    """GET (queries, or GraphiQL for a browser) and POST (queries and mutations)."""
    from airflow_platform.api.authn import authenticate
    from airflow_platform.services.schema_guard import ensure_schema_current

    view = _view()
    if _wants_graphiql():  # a static page; its queries come back here with the browser's session
        return Response(view.graphql_ide_html, mimetype="text/html")
    try:
        ensure_schema_current()
        try:
            principal = authenticate(required=True)
        except exc.AuthenticationError:
            _rate_limit(f"ip:{request.remote_addr or 'unknown'}", write=False)
            raise
        assert principal is not None
        _rate_limit(principal.rate_identity, write=_is_mutation(_document_text()))
    except exc.PlatformError as error:
        return _error_response(error)
    from cross_web import HTTPException

    try:
        result = asyncio.run(
            cast(Any, view).run(request=request, context=GraphQLContext(principal=principal))
        )
    except HTTPException as e:  # a malformed HTTP request (no query, bad JSON, GET mutation)
        error_class = exc.MethodNotAllowedError if e.status_code == 405 else exc.ValidationError
        return _error_response(error_class(e.reason))
    assert isinstance(result, Response)
    return result
