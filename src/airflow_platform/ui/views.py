"""The pages of the "Platform" menu, served by the platform's own Flask app on both Airflows.

Each page is a small HTML shell; ``static/platform.js`` draws it from the same platform API that
API clients use (with the browser's Airflow session), so there is no second back end. Pages need
Airflow's login: without a session the browser is sent to Airflow's login page and back.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Response, abort, render_template, request, send_from_directory

from airflow_platform import compat
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import AuthenticationError
from airflow_platform.schemas.ui import Allowed, UiContext
from airflow_platform.ui.menu import PAGES, UI_PREFIX

STATIC = Path(__file__).parent / "static"
blueprint = PlatformBlueprint("platform_ui", __name__, template_folder="templates")

#: Resources whose permissions the pages show or hide buttons by ("DAGs": pause/unpause).
UI_RESOURCES = (
    "DataKits",
    "Deployments",
    "Analytics",
    "Saved Queries",
    "Tenants",
    "Connections",
    "API Keys",
    "DAGs",
    "Webhooks",
)

#: Pages draw everything with DOM calls from our own script: nothing inline, nothing foreign.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


@cache
def _asset_version() -> str:
    """Changes whenever a static file does, so browsers never run a stale script."""
    latest = max(int(p.stat().st_mtime) for p in STATIC.iterdir())
    from airflow_platform.version import __version__

    return f"{__version__}-{latest}"


def _page(slug: str, title: str, arg: str = "") -> Response:
    if compat.session_user(request.cookies) is None:
        return Response(status=302, headers={"Location": compat.login_url(request.url)})
    html = render_template(
        "platform_ui_page.html",
        slug=slug,
        title=title,
        arg=arg,
        pages=PAGES,
        prefix=UI_PREFIX,
        asset_version=_asset_version(),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _make_page_view(slug: str, title: str):  # type: ignore[no-untyped-def]
    def view() -> Response:
        return _page(slug, title)

    view.__name__ = f"page_{slug.replace('-', '_')}"
    return view


for _slug, _title in PAGES:
    blueprint.add_url_rule(f"{UI_PREFIX}/{_slug}", view_func=_make_page_view(_slug, _title), methods=["GET"])


@blueprint.route(UI_PREFIX, methods=["GET"])
@blueprint.route(f"{UI_PREFIX}/", methods=["GET"])
def page_index() -> Response:
    return Response(status=302, headers={"Location": f"{UI_PREFIX}/{PAGES[0][0]}"})


@blueprint.route(f"{UI_PREFIX}/datakits/<datakit_id>", methods=["GET"])
def page_datakit(datakit_id: str) -> Response:
    return _page("datakit", f"DataKit {datakit_id}", arg=datakit_id)


@blueprint.route(f"{UI_PREFIX}/static/<path:filename>", methods=["GET"])
def static_file(filename: str) -> Response:
    if not (STATIC / filename).is_file():
        abort(404)
    response = send_from_directory(STATIC, filename, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _served(prefix: str) -> bool:
    """Whether the app has routes under ``prefix`` (optional APIs built by other parts of the platform)."""
    from airflow_platform.api.blueprint import platform_operations

    return any(op.rule.startswith(prefix) for op in platform_operations())


@blueprint.operation(
    f"{UI_PREFIX}/me",
    "GET",
    summary="Who the signed-in user is and what the UI may offer them",
    response=UiContext,
    public=True,
    tags=["ui"],
)
def get_ui_context(principal: Principal | None) -> UiContext:
    """The pages hide or disable what the user may not do; the API still checks every call."""
    if principal is None:
        raise AuthenticationError("Log in to Airflow to use the platform pages.")
    from airflow_platform.api.authn import tenant_service

    def allowed(resource: str) -> Allowed:
        def may(method: str) -> bool:
            return compat.is_authorized(principal.user, method, resource)

        return Allowed(read=may("GET"), create=may("POST"), edit=may("PATCH"), delete=may("DELETE"))

    return UiContext(
        user=principal.username,
        tenant_id=principal.tenant_id,
        is_platform_admin=principal.is_platform_admin,
        tenants=sorted(tenant_service().memberships(principal.username)),
        can={resource: allowed(resource) for resource in UI_RESOURCES},
        features={
            "saved_queries": _served("/api/v1/analytics/saved-queries"),
            "webhooks": _served("/api/v1/platform/webhooks"),
        },
        links=compat.airflow_ui_links(),
        airflow_version=compat.airflow_version(),
    )
