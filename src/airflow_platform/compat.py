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


def authorized_dag_ids(user: Any, method: str) -> set[str]:
    """The DAG ids Airflow's auth manager lets ``user`` read (``GET``) or edit (``PUT``): with FAB,
    the global "DAGs" permission (then every DAG) or per-DAG "DAG:<dag_id>" resources. One call
    answers a whole page, where ``is_authorized_dag`` would be one call per DAG."""
    if method not in ("GET", "PUT"):
        raise ValueError(f"DAG ids are authorized for GET or PUT, not {method!r}")
    if is_airflow_3():
        manager = _auth_manager()
        fab_app = getattr(manager, "flask_app", None)  # FAB reads permissions through current_app
        with fab_app.app_context() if fab_app is not None else contextlib.nullcontext():
            return set(manager.get_authorized_dag_ids(user=user, method=method))
    sm = _airflow2_security_manager()
    return set(sm.get_readable_dag_ids(user) if method == "GET" else sm.get_editable_dag_ids(user))


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


# --- GraphQL: Airflow's DAGs, runs and task instances, and the actions Airflow's own API takes ------


def airflow_models() -> tuple[Any, Any, Any, Any]:
    """``(DagModel, DagRun, TaskInstance, DagTag)``: their columns carry Airflow's own types
    (UTC datetimes on SQLite, Airflow 2's pickled run ``conf``), so reads go through them."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    return DagModel, DagRun, TaskInstance, DagTag


def dag_schedule_column() -> Any:
    """What a DAG's schedule reads as: 3 ``timetable_summary``, 2 ``schedule_interval``."""
    model = airflow_models()[0]
    return model.timetable_summary if is_airflow_3() else model.schedule_interval


def dag_run_logical_date() -> Any:
    """A run's date for listing and metrics: 3 runs may have no logical date (then ``run_after``)."""
    import sqlalchemy as sa

    run = airflow_models()[1]
    if is_airflow_3():
        return sa.func.coalesce(run.logical_date, run.run_after)
    return run.execution_date


def serialized_dag(dag_id: str, session: Any, run_id: str | None = None) -> Any | None:
    """The DAG as the scheduler knows it (serialized in the DB): the run's version when given."""
    if is_airflow_3():
        from airflow.models.dagbag import DBDagBag

        bag = DBDagBag()
        if run_id is not None:
            import sqlalchemy as sa

            run_model = airflow_models()[1]
            run = session.scalar(
                sa.select(run_model).where(run_model.dag_id == dag_id, run_model.run_id == run_id)
            )
            if run is not None:
                return bag.get_dag_for_run(run, session=session)
        return bag.get_latest_version_of_dag(dag_id, session=session)
    from airflow.models.dagbag import DagBag

    return DagBag(read_dags_from_db=True, load_op_links=False).get_dag(dag_id, session=session)


def trigger_dag_run(dag_id: str, run_id: str | None, conf: dict[str, Any] | None, username: str) -> str:
    """A manual run through Airflow's own ``trigger_dag`` (the one its REST API and CLI use);
    answers the run id. Airflow 3 gets a logical date (now), as Airflow 2 always has one."""
    from datetime import datetime, timezone

    from airflow.exceptions import DagNotFound, DagRunAlreadyExists

    from airflow_platform.exceptions import ConflictError, ResourceNotFoundError, ValidationError

    now = datetime.now(timezone.utc)
    try:
        if is_airflow_3():
            from airflow.api.common.trigger_dag import trigger_dag
            from airflow.utils.types import DagRunTriggeredByType

            run = trigger_dag(
                dag_id, triggered_by=DagRunTriggeredByType.REST_API, triggering_user_name=username,
                run_id=run_id, conf=conf, logical_date=now, replace_microseconds=False,
            )  # fmt: skip
        else:
            from airflow.api.common import trigger_dag as trigger_module

            run = cast(Any, trigger_module).trigger_dag(
                dag_id, run_id=run_id, conf=conf, execution_date=now, replace_microseconds=False
            )
    except DagNotFound:
        raise ResourceNotFoundError(f"DAG {dag_id!r} not found.", details={"dag_id": dag_id}) from None
    except DagRunAlreadyExists:
        raise ConflictError(
            f"DAG {dag_id!r} already has a run {run_id!r}.", details={"dag_id": dag_id, "run_id": run_id}
        ) from None
    except (ValueError, TypeError) as e:
        raise ValidationError(str(e), details={"dag_id": dag_id}) from None
    if run is None:
        raise ResourceNotFoundError(f"DAG {dag_id!r} not found.", details={"dag_id": dag_id})
    return str(run.run_id)


def clear_task_instance(dag_id: str, run_id: str, task_id: str) -> bool:
    """Clear one task of one run the way Airflow's REST clear endpoint does (``dag.clear`` on the
    serialized DAG, then ``clear_task_instances``, run set back to queued); False when absent."""
    import sqlalchemy as sa
    from airflow.utils.state import DagRunState

    _, run_model, _, _ = airflow_models()
    with orm_session() as session:
        run = session.scalar(
            sa.select(run_model).where(run_model.dag_id == dag_id, run_model.run_id == run_id)
        )
        if run is None:
            return False
        dag = serialized_dag(dag_id, session, run_id=run_id)
        if dag is None or task_id not in dag.task_dict:
            return False
        if is_airflow_3():
            from airflow.models.taskinstance import clear_task_instances

            tis = dag.clear(dry_run=True, task_ids=[task_id], run_id=run_id, session=session)
            clear_task_instances(list(tis), session, DagRunState.QUEUED)
        else:
            from airflow.models import taskinstance

            date = run.execution_date
            tis = dag.clear(dry_run=True, task_ids=[task_id], start_date=date, end_date=date, session=session)
            clear = cast(Any, taskinstance).clear_task_instances
            clear(list(tis), session, dag=dag, dag_run_state=DagRunState.QUEUED)
        return True


def read_task_log(dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str | None:
    """One try's log as text, through Airflow's ``TaskLogReader`` (whatever handler is configured);
    None when there is no such try."""
    import sqlalchemy as sa
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.log.log_reader import TaskLogReader
    from sqlalchemy.orm import joinedload

    ti_model = airflow_models()[2]
    reader = TaskLogReader()
    with orm_session() as session:
        ti: Any = None
        for model in (ti_model, TaskInstanceHistory):
            query = sa.select(model).where(
                model.dag_id == dag_id, model.run_id == run_id, model.task_id == task_id,
                model.map_index == map_index, model.try_number == try_number,
            )  # fmt: skip
            if hasattr(model, "dag_run"):  # Airflow 2's history rows have no relationship to load
                query = query.options(joinedload(model.dag_run))
            ti = session.scalar(query)
            if ti is not None:
                break
        if ti is None:
            return None
        dag = serialized_dag(dag_id, session, run_id=run_id)
        if dag is not None and task_id in dag.task_dict:
            ti.task = dag.get_task(task_id)
        logs: Any
        logs, _ = reader.read_log_chunks(ti, try_number, cast(Any, {"download_logs": True}))
        if is_airflow_3():
            lines = []
            for message in logs:
                stamp = getattr(message, "timestamp", None)
                level = getattr(message, "level", None)
                head = " ".join(p for p in (f"[{stamp.isoformat()}]" if stamp else "", str(level or "")) if p)
                lines.append(f"{head} {message.event}" if head else str(message.event))
            return "\n".join(lines)
        return "\n".join(text for _host, text in logs[0]) if logs else ""


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


# --- webhooks: reading Airflow's run tables ---------------------------------------------------------


def dag_run_external_trigger(row: Any) -> bool:
    """Airflow 2 stores ``external_trigger``; 3 dropped it: a manual run is the external one."""
    if is_airflow_3():
        return getattr(row, "run_type", None) == "manual"
    return bool(getattr(row, "external_trigger", False))


def run_tables() -> tuple[Any, Any, Any, Any]:
    """``(dag_run, task_instance, task_instance_history, dag_tag)`` as Core tables carrying
    Airflow's own column types (UTC datetimes on SQLite, Airflow 2's pickled ``conf``)."""
    from airflow.models.dag import DagTag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory

    return DagRun.__table__, TaskInstance.__table__, TaskInstanceHistory.__table__, DagTag.__table__
