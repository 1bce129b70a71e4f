"""The one platform blueprint: every area's blueprint nested in it, plus the shared hooks.

Airflow 2 registers it in its own Flask app (``flask_blueprints``); Airflow 3 and the tests
register it in the standalone app of ``api.app``. Either way the same hooks and error handlers
run, so both Airflows answer alike.
"""

from __future__ import annotations

from functools import cache
from typing import NoReturn

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from airflow_platform import exceptions as exc
from airflow_platform.api import errors
from airflow_platform.api.paths import PLATFORM_PREFIXES, is_platform_path
from airflow_platform.api.routing import Operation, PlatformBlueprint


def _area_blueprints() -> list[PlatformBlueprint]:
    # Imported here, not at module level: the plugin imports this module lazily on first use.
    from airflow_platform.api import (
        analytics,
        api_keys,
        connections,
        datakits,
        docs,
        graphql,
        health,
        oauth,
        oauth_clients,
        saved_queries,
        tenants,
        webhooks,
    )
    from airflow_platform.ui import views as ui_views

    return [
        health.blueprint,
        docs.blueprint,
        tenants.blueprint,
        api_keys.blueprint,
        oauth_clients.blueprint,
        oauth.blueprint,
        connections.blueprint,
        graphql.blueprint,
        datakits.blueprint,
        analytics.blueprint,
        saved_queries.blueprint,
        webhooks.blueprint,
        ui_views.blueprint,
    ]


def platform_operations() -> list[Operation]:
    """Every operation the platform serves, in declaration order (what OpenAPI describes)."""
    return [op for area in _area_blueprints() for op in area.operations]


@cache
def _declared_routes() -> Map:
    return Map([Rule(op.rule, methods=[op.method], endpoint=op.view_name) for op in platform_operations()])


def _unknown_route(rest: str = "") -> NoReturn:
    """Answer paths under our prefixes that no operation serves: 404, or 405 with ``Allow``."""
    try:
        _declared_routes().bind("platform").match(request.path, method=request.method)
    except MethodNotAllowed as e:
        allowed = ", ".join(sorted(e.valid_methods or []))
        raise exc.MethodNotAllowedError(
            f"Method {request.method} is not allowed on {request.path}; allowed: {allowed}.",
            details={"allowed_methods": sorted(e.valid_methods or [])},
            headers={"Allow": allowed},
        ) from None
    except NotFound:
        pass
    raise exc.ResourceNotFoundError(
        f"No platform endpoint at {request.path}.", details={"path": request.path}
    )


def _unrouted_method() -> Response | None:
    """A method that no rule of ours takes (QUERY, PROPFIND...) fails in routing, before any handler
    of this blueprint, so Airflow 2's webserver answered with its own 405 (no envelope, no ``Allow``;
    found by fuzzing). Runs before every request of the app: only our paths are answered here."""
    if not isinstance(request.routing_exception, MethodNotAllowed) or not is_platform_path(request.path):
        return None
    try:
        _unknown_route()
    except exc.PlatformError as e:
        return errors.add_request_id_header(errors.error_response(e))
    return None  # pragma: no cover - _unknown_route always raises


def _check_body_size() -> None:
    from airflow_platform import config

    limit = config.get_int("max_request_bytes")
    length = request.content_length
    if length is not None and length > limit:
        raise exc.PayloadTooLargeError(
            f"The request body is {length} bytes; the limit is {limit} bytes.",
            details={"limit_bytes": limit},
        )


@cache
def build_blueprint() -> Blueprint:
    platform = Blueprint("platform", __name__)
    for area in _area_blueprints():
        platform.register_blueprint(area)
    from airflow_platform.api import graphql as graphql_area

    # Paths an area serves without declared operations are not "unknown".
    exact_routes = {op.rule for op in platform_operations()} | graphql_area.ROUTES
    # TRACE too, and the methods an exact prefix path does not declare: a method no rule takes fails
    # in routing, where Airflow 2's own 405 handler answers (no envelope, no Allow; found by fuzzing).
    all_methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
    for prefix in PLATFORM_PREFIXES:
        if prefix not in exact_routes:
            platform.add_url_rule(prefix, f"unknown_root{prefix}", _unknown_route, methods=all_methods)
        elif declared := {op.method for op in platform_operations() if op.rule == prefix}:
            undeclared = [m for m in all_methods if m not in declared | {"HEAD", "OPTIONS"}]
            platform.add_url_rule(
                prefix,
                f"unknown_root{prefix}",
                _unknown_route,
                methods=undeclared,
                provide_automatic_options=False,  # OPTIONS stays with the declared operations
            )
        platform.add_url_rule(
            f"{prefix}/<path:rest>", f"unknown_route{prefix}", _unknown_route, methods=all_methods
        )
    install_common_hooks(platform)
    platform.before_app_request(_unrouted_method)
    return platform


def install_common_hooks(blueprint: Blueprint) -> None:
    """What every platform route gets: the body-size cap and the error envelope."""
    blueprint.before_request(_check_body_size)
    errors.register(blueprint)
