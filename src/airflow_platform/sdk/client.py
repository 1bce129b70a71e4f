"""``PlatformClient``: the synchronous client."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import TracebackType

import httpx

from airflow_platform.schemas.common import HealthResponse
from airflow_platform.sdk.core import SyncCore
from airflow_platform.sdk.resources.analytics import Analytics
from airflow_platform.sdk.resources.api_keys import ApiKeys
from airflow_platform.sdk.resources.connections import Connections
from airflow_platform.sdk.resources.dags import Dags
from airflow_platform.sdk.resources.datakits import DataKits
from airflow_platform.sdk.resources.tasks import Tasks
from airflow_platform.sdk.resources.tenants import Tenants
from airflow_platform.sdk.resources.webhooks import Webhooks
from airflow_platform.sdk.server import health
from airflow_platform.sdk.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Timeout, resolve_settings


class PlatformClient:
    """The Airflow Platform from Python, without Airflow.

    Credentials: ``api_key`` (default ``$AIRFLOW_PLATFORM_API_KEY``), or ``client_id`` and
    ``client_secret`` (OAuth2 client credentials), or ``username`` and ``password`` (an Airflow user).
    ``base_url`` defaults to ``$AIRFLOW_PLATFORM_URL``. ``tenant`` sends ``X-Tenant-ID`` on every call.
    Idempotent calls are retried ``max_retries`` times on 429/502/503/504 and connection errors.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tenant: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        settings = resolve_settings(
            base_url=base_url,
            api_key=api_key,
            client_id=client_id,
            client_secret=client_secret,
            username=username,
            password=password,
            tenant=tenant,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._core = SyncCore(settings, http_client)

    @property
    def base_url(self) -> str:
        return self._core.settings.base_url

    @cached_property
    def dags(self) -> Dags:
        return Dags(self._core)

    @cached_property
    def tasks(self) -> Tasks:
        return Tasks(self._core)

    @cached_property
    def tenants(self) -> Tenants:
        return Tenants(self._core)

    @cached_property
    def connections(self) -> Connections:
        return Connections(self._core)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return ApiKeys(self._core)

    @cached_property
    def datakits(self) -> DataKits:
        return DataKits(self._core)

    @cached_property
    def analytics(self) -> Analytics:
        return Analytics(self._core)

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self._core)

    def health(self) -> HealthResponse:
        """Versions and component states; raises ``ServiceUnavailableError`` while unhealthy."""
        return self._core.run(health())

    def airflow_version(self) -> str:
        """The server's Airflow version (asked once, then remembered)."""
        return self._core.run(self._core.info.routes()).airflow_version

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PlatformClient(base_url={self.base_url!r})"
