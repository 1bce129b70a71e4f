"""Airflow 3: the root ASGI middleware that hands our path prefixes to the platform's Flask app.

Airflow 3 answers every ``/api/v1/*`` path with 404 "removed", so we must see requests before
Airflow routes them. The Flask app is built on the first platform request, not at import, so the
plugin costs Airflow's start almost nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from airflow_platform.api.paths import is_platform_path

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class PlatformRootMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._platform: ASGIApp | None = None
        self._lock = threading.Lock()

    def _platform_app(self) -> ASGIApp:
        if self._platform is None:
            with self._lock:
                if self._platform is None:
                    from a2wsgi import WSGIMiddleware

                    from airflow_platform.api.app import create_app

                    self._platform = cast(ASGIApp, WSGIMiddleware(cast(Any, create_app()), workers=16))
        assert self._platform is not None
        return self._platform

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path") or ""
            if root and path.startswith(root):
                path = path[len(root) :]
            if is_platform_path(path):
                await self._platform_app()(scope, receive, send)
                return
        await self.app(scope, receive, send)
