"""Schemathesis hooks for the fuzz runs (loaded by the ``st`` process through ``hooks`` in its config).

The fuzzer shares the session's server with the modules that run after it, so a destructive call
(DELETE, PATCH, PUT, POST on an item) whose path names one of the fixtures' tenants or keys is
pointed at an id that does not exist instead: the call is still made and checked (a 404), the
fixture survives. The protected ids come from ``PLATFORM_FUZZ_PROTECTED`` (comma-separated).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

_PROTECTED = frozenset(filter(None, os.environ.get("PLATFORM_FUZZ_PROTECTED", "").split(",")))
_STANDIN = "fuzz-protected-standin"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.method.upper() == "GET" or not case.path_parameters:
        return
    for name, value in list(case.path_parameters.items()):
        if str(value) in _PROTECTED:
            case.path_parameters[name] = _STANDIN


#: GraphQL error codes that mean the server failed, not the request (``extensions.code``).
_SERVER_CODES = frozenset({"INTERNAL_ERROR"})


@schemathesis.check
def graphql_no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """GraphQL answers client errors (a missing DAG, a negative offset) as resolver ``errors``, which
    schemathesis' ``not_a_server_error`` counts as server errors. The platform marks every error
    with ``extensions.code`` (the REST envelope's codes), so a server error is a 5xx status, an error
    without a code, or the code INTERNAL_ERROR; the GraphQL run uses this check in its place."""
    if not response.request.url.rstrip("/").endswith("/graphql"):
        return None
    assert response.status_code < 500, f"HTTP {response.status_code} from /graphql"
    payload = response.json()
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code and code not in _SERVER_CODES, f"GraphQL server error: {error}"
    return True
