"""Airflow 2.11: an ``[api] auth_backends`` module so platform keys work on Airflow's ``/api/v1``.

    [api]
    auth_backends = airflow_platform.auth.airflow2_backend,airflow.api.auth.backend.session

Modelled on Airflow's own ``basic_auth`` backend: resolve the key to its FAB user and log it in
for this request; Airflow's permission checks then apply to that user. Requests without a key
get 401 here so Airflow tries the next backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import orjson
from flask import Response, abort, after_this_request, request
from flask_login import login_user

from airflow_platform.auth.airflow_api import check_key, error_body
from airflow_platform.exceptions import PlatformError

T = TypeVar("T", bound=Callable[..., Any])


def init_app(_: Any) -> None:
    """Nothing to set up: keys live in the platform's tables."""


def requires_authentication(function: T) -> T:
    @wraps(function)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        secret = request.headers.get("X-API-Key")
        bearer = request.headers.get("Authorization", "")
        if not secret and bearer[:7].lower() == "bearer " and bearer[7:].strip().startswith("afo_"):
            secret = bearer[7:].strip()  # a platform OAuth2 access token
        if not secret:
            return Response("Unauthorized", 401, {"WWW-Authenticate": "X-API-Key"})
        try:
            use = check_key(secret, request.method, request.path)
        except PlatformError as e:
            rid = request.headers.get("X-Request-ID") or f"req_{uuid.uuid4().hex}"
            headers = {"X-Request-ID": rid, **e.headers}
            if e.status == 401:
                # Let Airflow's next backend try; its 401 answer is Airflow's own.
                return Response("Unauthorized", 401, {"WWW-Authenticate": "X-API-Key"})
            # Raised, not returned: Airflow would otherwise try the next backend and answer 401.
            abort(Response(orjson.dumps(error_body(e, rid)), e.status, headers, mimetype="application/json"))
        login_user(use.user, remember=False)

        @after_this_request
        def _headers(response: Response) -> Response:
            for name, value in use.rate_headers.items():
                response.headers[name] = value
            return response

        return function(*args, **kwargs)

    return cast(T, decorated)
