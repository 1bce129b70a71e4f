"""What the SDK learns about the server once per client: which Airflow it runs.

DAG and task calls speak ``/api/v1`` on Airflow 2.11 and ``/api/v2`` on Airflow 3, so the client
asks the public ``GET /api/v1/platform/health`` once (its ``airflow_version``) and remembers.
"""

from __future__ import annotations

from typing import Any

import httpx

from airflow_platform import exceptions as exc
from airflow_platform.schemas.common import HealthResponse
from airflow_platform.sdk.airflow_routes import AirflowRoutes, routes_for
from airflow_platform.sdk.calls import Call, Op
from airflow_platform.sdk.errors import error_from_response

PLATFORM_PREFIX = "/api/v1/platform"
HEALTH_PATH = f"{PLATFORM_PREFIX}/health"
#: Airflow 3's own public health check, asked when the platform's is missing (plain Airflow).
AIRFLOW3_HEALTH_PATH = "/api/v2/monitor/health"


#: The version detection call; public, so it never waits for a token.
DETECT = Call("GET", HEALTH_PATH, authenticated=False)


def version_from_health(status: int, body: Any) -> str | None:
    """``airflow_version`` from a health answer: the document itself (200), or the copy a 503
    envelope carries in ``details`` while the metadata DB is down."""
    if not isinstance(body, dict):
        return None
    if status == 200:
        return body.get("airflow_version")
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("details"), dict):
        return error["details"].get("airflow_version")
    return None


class ServerInfo:
    """Shared by a client's operations and its auth (password auth needs the version too)."""

    def __init__(self) -> None:
        self.airflow_version: str | None = None
        self._routes: AirflowRoutes | None = None

    @property
    def known(self) -> bool:
        return self._routes is not None

    @property
    def major(self) -> int:
        """Airflow's major version; only meaningful once ``known``."""
        return self._routes.major if self._routes is not None else 3

    def learn(self, airflow_version: str) -> AirflowRoutes:
        self.airflow_version = airflow_version
        self._routes = routes_for(airflow_version)
        return self._routes

    def learn_from_response(self, response: httpx.Response) -> AirflowRoutes:
        try:
            body = response.json()
        except ValueError:
            body = None
        version = version_from_health(response.status_code, body)
        if version is None:
            raise error_from_response(response)
        return self.learn(version)

    def routes(self) -> Op[AirflowRoutes]:
        """The routes of this server's Airflow, detected on first use. The cores answer ``DETECT``
        with None when a concurrent operation learnt the version while this one waited."""
        if self._routes is not None:
            return self._routes
        try:
            body = yield DETECT
            if self._routes is not None:
                return self._routes
            version = version_from_health(200, body)
        except exc.ServiceUnavailableError as error:
            version = error.details.get("airflow_version")
            if version is None:
                raise
        except exc.ResourceNotFoundError:
            # No platform plugin: plain Airflow. Airflow 3 answers its own public health check.
            try:
                yield Call("GET", AIRFLOW3_HEALTH_PATH, authenticated=False)
                version = "3"
            except exc.PlatformError:
                version = "2"
        if not version:
            raise exc.ServerError("The health answer names no airflow_version.")
        return self.learn(str(version))


def health() -> Op[HealthResponse]:
    """``GET /api/v1/platform/health``, with the client's credentials (the server counts them)."""
    return HealthResponse.model_validate((yield Call("GET", HEALTH_PATH)))
