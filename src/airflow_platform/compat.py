"""Everything that differs between Airflow 2.11 and Airflow 3.x, and nothing else.

Other modules ask this one; none of them looks at Airflow's version itself.
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any, cast


@cache
def airflow_version() -> str:
    from airflow import __version__

    return str(__version__)


@cache
def _version_tuple() -> tuple[int, int]:
    from packaging.version import Version

    v = Version(airflow_version())
    return (v.major, v.minor)


def is_airflow_3() -> bool:
    return _version_tuple() >= (3, 0)


def sql_alchemy_conn() -> str:
    from airflow import settings

    return str(settings.SQL_ALCHEMY_CONN)


def metadata_engine() -> Any:
    """The engine of Airflow's metadata DB, configured the way Airflow configures it."""
    from airflow import settings

    if settings.engine is None:  # a process where Airflow has not set up the ORM yet
        settings.configure_orm()
    return settings.engine


def exempt_from_csrf(blueprint: Any) -> None:
    """Airflow 2's webserver protects every form POST with CSRF; API calls carry no token."""
    if is_airflow_3():
        return
    from airflow.www.app import csrf

    # Flask-WTF exempts by blueprint object, and nested blueprints are apps' blueprints of their
    # own, so each one is exempted. Session (cookie) requests get our own same-origin check.
    pending = [blueprint]
    while pending:
        current = pending.pop()
        csrf.exempt(current)
        pending.extend(child for child, _ in getattr(current, "_blueprints", []))


def base_db_manager() -> type:
    """Airflow 3's base class for DB managers of external tables (absent on Airflow 2)."""
    from airflow.utils.db_manager import BaseDBManager

    return BaseDBManager


# --- auth: users and permissions through Airflow's auth manager (FAB by default) ---------------


def _auth_manager() -> Any:
    """Airflow 3's auth manager: the server's instance, or one made for this process."""
    from airflow.api_fastapi.app import create_auth_manager

    return create_auth_manager()


#: username -> FAB user id. Ids never change for a username; whether the user still exists and is
#: active is checked by the auth manager's deserialize_user on every call.
_USER_IDS: dict[str, int] = {}


def find_user(username: str) -> Any | None:
    """The auth manager's user object for a FAB username, or None when absent or inactive."""
    from sqlalchemy import select

    if is_airflow_3():
        user_id = _USER_IDS.get(username)
        if user_id is None:
            from airflow.providers.fab.auth_manager.models import User
            from airflow.utils.session import create_session

            with create_session() as session:
                user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                return None
            _USER_IDS[username] = user_id
        try:
            return _auth_manager().deserialize_user({"sub": str(user_id)})
        except ValueError:  # deleted or inactive
            _USER_IDS.pop(username, None)
            return None
    user = _airflow2_security_manager().find_user(username=username)
    return user if user is not None and user.is_active else None


def user_exists(username: str) -> bool:
    """Whether a FAB user exists, from any process (no web app needed)."""
    import sqlalchemy as sa

    with metadata_engine().connect() as conn:
        row = conn.execute(sa.text("SELECT 1 FROM ab_user WHERE username = :u"), {"u": username}).first()
    return row is not None


def is_authorized(user: Any, method: str, resource: str) -> bool:
    """Ask Airflow whether ``user`` may do ``method`` (GET/POST/PATCH/PUT/DELETE) on ``resource``."""
    from airflow_platform.auth.permissions import action_for

    action = action_for(method)
    if is_airflow_3():
        manager = _auth_manager()
        # FAB computes a user's permissions through ``current_app.appbuilder``: inside our own Flask
        # app that must be the auth manager's app, not ours.
        fab_app = getattr(manager, "flask_app", None)
        with fab_app.app_context() if fab_app is not None else contextlib.nullcontext():
            return bool(manager.is_authorized_custom_view(method=action, resource_name=resource, user=user))
    return bool(_airflow2_security_manager().has_access(action, resource, user))


def session_user(cookies: Any) -> Any | None:
    """The user of the Airflow UI session of this request, if any."""
    if is_airflow_3():
        token = cookies.get("_token")
        return user_from_airflow_jwt(token) if token else None
    from flask import current_app
    from flask_login import current_user

    if not hasattr(current_app, "login_manager"):  # our standalone app (tests): no Airflow session
        return None
    return current_user if current_user and current_user.is_authenticated else None


def user_from_airflow_jwt(token: str) -> Any | None:
    """Airflow 3: the user of a valid Airflow JWT; None when invalid. Airflow 2 has no such JWT."""
    if not is_airflow_3():
        return None
    import asyncio

    try:
        return asyncio.run(_auth_manager().get_user_from_token(token))
    except Exception:
        return None


def airflow_jwt_for(user: Any, expires_in: int) -> str:
    """Airflow 3: a short-lived Airflow JWT of ``user``, for Airflow's own API."""
    return str(_auth_manager().generate_jwt(user, expiration_time_in_seconds=expires_in))


def sync_permissions(grants: dict[str, dict[str, tuple[str, ...]]], resources: tuple[str, ...]) -> list[str]:
    """Create our FAB resources and grant default roles; returns what was added."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    added: list[str] = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for resource in resources:
            for action in ("can_read", "can_create", "can_edit", "can_delete"):
                if sm.get_permission(action, resource) is None:
                    sm.create_permission(action, resource)
                    added.append(f"{action} on {resource}")
        for role_name, by_resource in grants.items():
            # On Airflow 2 the default roles appear only when the webserver first starts; made
            # here they get Airflow's own permissions added then (FAB's role sync is additive).
            role = sm.find_role(role_name) or sm.add_role(role_name)
            for resource, actions in by_resource.items():
                for action in actions:
                    perm = sm.get_permission(action, resource)
                    if perm is not None and perm not in role.permissions:
                        sm.add_permission_to_role(role, perm)
                        added.append(f"{role_name}: {action} on {resource}")
    return added


def user_from_basic_auth(username: str, password: str) -> Any | None:
    """Airflow 2: check a FAB username/password (as Airflow 2's basic_auth backend does).

    Airflow 3 takes passwords only at ``POST /auth/token``; clients exchange them for a JWT there.
    """
    if is_airflow_3():
        return None
    user = _airflow2_security_manager().auth_user_db(username, password)
    return user if user is not None and user.is_active else None


def usernames_for_emails(emails: list[str]) -> dict[str, str]:
    """FAB usernames of the users with these e-mails (the e-mail itself when no user has it)."""
    import sqlalchemy as sa

    if not emails:
        return {}
    with metadata_engine().connect() as conn:
        rows = conn.execute(
            sa.text("SELECT email, username FROM ab_user WHERE email IN :emails").bindparams(
                sa.bindparam("emails", expanding=True)
            ),
            {"emails": emails},
        ).all()
    found = {r.email: r.username for r in rows}
    return {e: found.get(e, e) for e in emails}


def _airflow2_security_manager() -> Any:
    """Airflow 2: FAB's security manager of the webserver app serving this request."""
    from flask import current_app

    return cast(Any, current_app).appbuilder.sm


def login_url(next_url: str) -> str:
    """Airflow's own login page, coming back to ``next_url`` afterwards."""
    from urllib.parse import quote

    if is_airflow_3():
        return str(_auth_manager().get_url_login(next_url=next_url))
    return f"/login/?next={quote(next_url, safe='')}"


def connection_model() -> Any:
    """Airflow's ORM model of connections (the rows its UI and ``airflow connections`` use)."""
    from airflow.models.connection import Connection

    return Connection


def orm_session() -> Any:
    """A session on Airflow's metadata DB, committed on success (``create_session``)."""
    from airflow.utils.session import create_session

    return create_session()


def redact(value: Any) -> Any:
    """Mask secret-looking keys the way Airflow masks them in its UI and logs."""
    if is_airflow_3():
        from airflow.sdk.execution_time import secrets_masker
    else:
        from airflow.utils.log import secrets_masker  # type: ignore[no-redef,attr-defined]
    return secrets_masker.redact(value)


def ensure_users_for_emails(emails: list[str]) -> dict[str, str]:
    """FAB usernames for these e-mails, creating a ``User``-role account for any that lacks one.

    A created account gets a random password nobody knows: the person signs in through the
    configured identity provider, or an admin sets a password in Airflow's user list.
    """
    import secrets

    found = usernames_for_emails(emails)
    missing = [e for e, name in found.items() if name == e and not user_exists(e)]
    if not missing:
        return found
    if is_airflow_3():
        manager = _auth_manager()
        fab_app = getattr(manager, "flask_app", None)
        if fab_app is None:  # no FAB app in this process (not the API server): do not create
            return found
        with fab_app.app_context():
            _add_users(manager.security_manager, missing, secrets.token_urlsafe(32))
    else:
        _add_users(_airflow2_security_manager(), missing, secrets.token_urlsafe(32))
    return usernames_for_emails(emails)


def _add_users(sm: Any, emails: list[str], password: str) -> None:
    role = sm.find_role("User")
    for email in emails:
        if sm.find_user(email=email) is None:
            sm.add_user(email, email.split("@")[0], "(tenant admin)", email, role, password)


# --- tasks: what an operator may use (on Airflow 3 a task has no metadata-DB access) ------------


def base_operator() -> type:
    """The operator base class: Airflow 3's Task SDK one, or Airflow 2's ORM-backed one."""
    if is_airflow_3():
        from airflow.sdk import BaseOperator
    else:
        from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef]
    return cast(type, BaseOperator)


def task_exceptions() -> tuple[type[Exception], type[Exception]]:
    """``(AirflowException, AirflowFailException)``: a task failure, and one that skips retries."""
    if is_airflow_3():
        from airflow.sdk.exceptions import AirflowException, AirflowFailException
    else:
        from airflow.exceptions import AirflowException, AirflowFailException  # type: ignore[no-redef]
    return AirflowException, AirflowFailException


def get_connection(conn_id: str) -> Any:
    """An Airflow connection from inside a task (Airflow 3: through the Task SDK, not the ORM)."""
    if is_airflow_3():
        from airflow.sdk import BaseHook
    else:
        from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    return BaseHook.get_connection(conn_id)


def object_storage_path(uri: str) -> Any:
    """Airflow's ``ObjectStoragePath`` (fsspec, with ``scheme://conn_id@bucket/...`` connections)."""
    if is_airflow_3():
        from airflow.sdk import ObjectStoragePath
    else:
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef]
    return ObjectStoragePath(uri)


def dag_run_date_column() -> str:
    """The logical date of a DAG run: ``logical_date`` on Airflow 3, ``execution_date`` on 2."""
    return "logical_date" if is_airflow_3() else "execution_date"


def dag_active_clause() -> Any:
    """SQL that is true for DAGs still present in a DAG file (3: ``NOT is_stale``; 2: ``is_active``)."""
    import sqlalchemy as sa

    if is_airflow_3():
        return sa.not_(sa.column("is_stale"))
    return sa.column("is_active")


def get_parsing_context() -> Any:
    """Which DAG a task run is parsing for (``dag_id`` None when parsing everything)."""
    if is_airflow_3():
        from airflow.sdk import get_parsing_context as parsing_context
    else:
        from airflow.utils.dag_parsing_context import (  # type: ignore[no-redef]
            get_parsing_context as parsing_context,
        )
    return parsing_context()


def dag_class() -> type:
    """The DAG class DAG authors use: ``airflow.sdk.DAG`` on 3, ``airflow.models.dag.DAG`` on 2."""
    if is_airflow_3():
        from airflow.sdk import DAG
    else:
        from airflow.models.dag import DAG  # type: ignore[no-redef]
    return DAG


# --- UI pages: where Airflow's own pages and API live -------------------------------------------


def airflow_ui_links() -> dict[str, str]:
    """URL templates (``{dag_id}``) of Airflow's DAG page and its DAG API (pause/unpause)."""
    if is_airflow_3():
        return {"dag": "/dags/{dag_id}", "dag_api": "/api/v2/dags/{dag_id}", "home": "/"}
    dag_api = "/api/v1/dags/{dag_id}?update_mask=is_paused"
    return {"dag": "/dags/{dag_id}/grid", "dag_api": dag_api, "home": "/"}


def plugin_menu(items: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """A "Platform" menu of ``(name, href, url_route)`` links, as this Airflow's plugins declare it.

    Airflow 3 (3.1+): ``external_views``, opened inside its UI (an iframe at ``/plugin/<url_route>``);
    Airflow 2.11: FAB ``appbuilder_menu_items`` linking to the pages.
    """
    if is_airflow_3():
        return [{"name": n, "href": h, "url_route": r, "category": "Platform"} for n, h, r in items]
    return [{"name": n, "href": h, "category": "Platform"} for n, h, _ in items]
