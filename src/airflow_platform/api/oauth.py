"""``/oauth``: the OAuth2 authorization server over HTTP (RFC 6749, RFC 7636, RFC 7009).

``POST /oauth/token`` and ``POST /oauth/revoke`` deliberately answer errors in the RFC 6749 §5.2
format (``{"error": "invalid_client", "error_description": ...}``, 400 or 401) instead of the
platform envelope: they are called by OAuth client libraries, which parse that format and nothing
else. Failures outside OAuth itself (rate limit, an outdated schema, a server error) keep the envelope.

``/oauth/authorize`` is for people: it sends them to Airflow's own login when they have no Airflow
session (or Basic credentials on Airflow 2, or an Airflow 3 JWT), shows a consent page, and sends the
browser back to the client with a code, or with ``error=access_denied``. A request whose client or
redirect URI does not check out is answered here with the envelope and never redirected.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, scope_to_list
from flask import Response, g, render_template, request

from airflow_platform import compat
from airflow_platform import exceptions as exc
from airflow_platform.api.authn import same_origin
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.oauth2 import authorization_server, consent_subject
from airflow_platform.auth.principal import Principal
from airflow_platform.auth.scopes import AREAS
from airflow_platform.schemas.oauth import TokenResponse

blueprint = PlatformBlueprint("oauth", __name__, template_folder="templates")

#: Views that authenticate an OAuth *client*, not an Airflow user.
_CLIENT_AUTHENTICATED_VIEWS = ("issue_token", "revoke_token")
#: What the consent form carries back in its POST.
_AUTHORIZE_PARAMS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
)  # fmt: skip
#: Ways a *person* is logged in; keys and access tokens cannot consent on a user's behalf.
_INTERACTIVE = ("session", "basic", "airflow_jwt")
_FORM = "application/x-www-form-urlencoded"


@blueprint.before_request
def _no_user_on_client_endpoints() -> None:
    """On the token and revocation endpoints HTTP Basic carries ``client_id:client_secret``, which
    the user authentication every operation runs must not read as an Airflow login: record "no user
    principal" up front. The guard still rate-limits those calls by address."""
    if (request.endpoint or "").rsplit(".", 1)[-1] in _CLIENT_AUTHENTICATED_VIEWS:
        g.platform_principal = None


def _form_problem() -> OAuth2Error | None:
    """RFC 6749 §3.2: parameters come form-encoded in the body; never in the URL, where secrets
    end up in access logs."""
    if request.mimetype != _FORM:
        return InvalidRequestError(f"Send the parameters as {_FORM}.")
    if request.args:
        return InvalidRequestError("Send the parameters in the request body, not in the URL.")
    return None


#: Token and revoke errors are RFC 6749 JSON (``error``, ``error_description``), not the envelope.
_RFC6749_ERRORS = {400: "RFC 6749 error (invalid_request, invalid_grant...)", 401: "RFC 6749 invalid_client"}


@blueprint.operation("/oauth/token", "POST", summary="Issue an OAuth2 access token", response=TokenResponse,
                     public=True, tags=["oauth"], errors=(429, 500),
                     extra_responses=_RFC6749_ERRORS)  # fmt: skip
def issue_token() -> Response:
    """RFC 6749 token endpoint, form-encoded: ``grant_type`` client_credentials, authorization_code
    (with the PKCE ``code_verifier``) or refresh_token (which rotates). Client authentication by HTTP
    Basic or ``client_id``/``client_secret`` in the form. Errors are RFC 6749 JSON
    (``error``, ``error_description``) with 400 or 401, not the platform envelope."""
    server = authorization_server()
    problem = _form_problem()
    if problem is not None:
        return server.handle_error_response(None, problem)
    return server.create_token_response()


@blueprint.operation("/oauth/revoke", "POST", summary="Revoke an OAuth2 token", public=True,
                     tags=["oauth"], errors=(429, 500),
                     extra_responses=_RFC6749_ERRORS)  # fmt: skip
def revoke_token() -> Response:
    """RFC 7009: the client revokes one of its access or refresh tokens (form ``token``); either kind
    ends both. Answers 200 whether or not the token was known; RFC 6749 JSON errors for a bad client."""
    server = authorization_server()
    problem = _form_problem()
    if problem is not None:
        return server.handle_error_response(None, problem)
    return server.create_endpoint_response("revocation")


def _refuse_or_redirect(error: OAuth2Error) -> Response:
    """RFC 6749 §4.1.2.1: errors go back to the client only once its redirect URI is known good."""
    if error.redirect_uri:
        return authorization_server().handle_error_response(None, error)
    description = error.description or error.get_error_description() or error.error
    raise exc.ValidationError(
        f"Invalid authorization request: {description}",
        details={"error": error.error, "error_description": description},
    )


def _require_person(principal: Principal) -> None:
    if principal.via not in _INTERACTIVE:
        raise exc.PermissionDeniedError(
            "Only a person logged in to Airflow can authorize a client; API keys and access tokens cannot."
        )


def _describe(scope: str) -> str:
    if scope == "*":
        return "Everything you may do on the platform"
    area, _, mode = scope.partition(":")
    return f"{'Read and change' if mode == 'write' else 'Read'} {AREAS.get(area, area)}"


def _consent_page(grant: Any, principal: Principal) -> Response:
    record = grant.client.record
    html = render_template(
        "platform_oauth_consent.html",
        client_name=record.name,
        client_id=record.client_id,
        username=principal.username,
        tenant_id=consent_subject(principal.username, principal.tenant_id, grant.client).tenant_id,
        scopes=[(s, _describe(s)) for s in scope_to_list(grant.request.scope) or []],
        redirect_host=urlsplit(grant.redirect_uri).netloc,
        fields={name: request.args[name] for name in _AUTHORIZE_PARAMS if name in request.args},
        action=request.script_root + request.path,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # A consent page must never be framed by another site (clickjacking).
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.operation("/oauth/authorize", "GET", summary="Ask a user to authorize an OAuth2 client",
                     public=True, tags=["oauth"], errors=(400, 401, 403, 429, 500),
                     extra_responses={302: "To the login, or to the redirect URI"})  # fmt: skip
def authorize_page(principal: Principal | None) -> Response:
    """RFC 6749 §4.1.1 with PKCE: ``response_type=code``, ``client_id``, ``redirect_uri`` (registered,
    exact), ``code_challenge`` with ``code_challenge_method=S256``, optional ``scope`` and ``state``.
    Without an Airflow login, redirects to Airflow's login page and back; with one, shows the consent
    page."""
    try:
        grant = authorization_server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _refuse_or_redirect(error)
    if principal is None:
        return Response(status=302, headers={"Location": compat.login_url(request.url)})
    _require_person(principal)
    return _consent_page(grant, principal)


@blueprint.operation("/oauth/authorize", "POST", summary="Approve or deny an OAuth2 client",
                     public=True, tags=["oauth"], errors=(400, 401, 403, 429, 500),
                     extra_responses={302: "Back to the client's redirect URI"})  # fmt: skip
def authorize_decision(principal: Principal | None) -> Response:
    """The consent page's form: ``decision=approve`` redirects to the client with ``code`` and
    ``state``; anything else with ``error=access_denied``. Must come from this site's own page."""
    if principal is None:
        raise exc.AuthenticationError("Log in to Airflow to authorize a client.")
    _require_person(principal)
    if not same_origin():
        # Browsers resend Basic credentials to any site's form: the decision must come from our page.
        raise exc.PermissionDeniedError("The decision must be sent from this server's consent page.")
    server = authorization_server()
    try:
        grant = server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _refuse_or_redirect(error)
    subject = None
    if request.form.get("decision") == "approve":
        subject = consent_subject(principal.username, principal.tenant_id, grant.client)
    return server.create_authorization_response(grant_user=subject, grant=grant)
