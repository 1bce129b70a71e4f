"""The Airflow plugin, split by Airflow version (DESIGN §3).

* Airflow 3: a root ASGI middleware sends the platform's prefixes to our Flask app.
* Airflow 2.11: the platform blueprint joins Airflow's own Flask app.

Importing this module builds nothing: the blueprint and the Flask app are made on first use, so
every Airflow process that loads plugins (scheduler, workers, DAG processor) pays almost nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_platform.compat import is_airflow_3, plugin_menu
from airflow_platform.ui.menu import menu_items


def _platform_blueprints() -> list[Any]:
    from airflow_platform.api.blueprint import build_blueprint
    from airflow_platform.compat import exempt_from_csrf

    blueprint = build_blueprint()
    exempt_from_csrf(blueprint)
    _start_webhook_dispatcher_in_workers(blueprint)
    return [blueprint]


def _start_webhook_dispatcher_in_workers(blueprint: Any) -> None:
    """Airflow 2's gunicorn builds the app in its master (``--preload``) and forks the workers:
    each worker starts its dispatcher thread right after the fork (no thread runs across a fork).
    Without preload the app is built in the worker itself: its first request starts it."""
    import os

    from airflow_platform.webhooks.dispatcher import start_background_dispatcher

    global _dispatcher_hooks_installed
    if not _dispatcher_hooks_installed:
        _dispatcher_hooks_installed = True
        os.register_at_fork(after_in_child=start_background_dispatcher)
    # The blueprint is built once per process; an app may have registered it already (an in-process
    # app in the tests), and Flask refuses setup methods after that.
    if not getattr(blueprint, "_got_registered_once", False):
        blueprint.before_app_request(start_background_dispatcher)


_dispatcher_hooks_installed = False


class _LazyBlueprints(list[Any]):
    """A list that builds the blueprint when Airflow 2's webserver first iterates it."""

    def __init__(self) -> None:
        super().__init__()
        self._built = False

    def _build(self) -> None:
        if not self._built:
            self._built = True
            self.extend(_platform_blueprints())

    def __iter__(self) -> Iterator[Any]:
        self._build()
        return super().__iter__()

    def __len__(self) -> int:
        self._build()
        return super().__len__()


class PlatformPlugin(AirflowPlugin):
    name = "airflow_platform"

    if is_airflow_3():
        from airflow_platform.api.asgi import PlatformRootMiddleware

        fastapi_root_middlewares = [{"name": "airflow_platform", "middleware": PlatformRootMiddleware}]
        # The "Platform" menu: pages open inside Airflow's UI (iframe at /plugin/<url_route>).
        external_views = plugin_menu(menu_items())
    else:
        flask_blueprints = _LazyBlueprints()
        # The "Platform" menu of Airflow 2's navigation bar (FAB menu links).
        appbuilder_menu_items = plugin_menu(menu_items())
