"""``AsyncPlatformClient``: the same client for asyncio (and trio), on the same core."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import TracebackType

import httpx

from airflow_platform.schemas.common import HealthResponse
from airflow_platform.sdk.core import AsyncCore
from airflow_platform.sdk.resources.analytics import AsyncAnalytics
from airflow_platform.sdk.resources.api_keys import AsyncApiKeys
from airflow_platform.sdk.resources.connections import AsyncConnections
from airflow_platform.sdk.resources.dags import AsyncDags
from airflow_platform.sdk.resources.datakits import AsyncDataKits
from airflow_platform.sdk.resources.tasks import AsyncTasks
from airflow_platform.sdk.resources.tenants import AsyncTenants
from airflow_platform.sdk.resources.webhooks import AsyncWebhooks
from airflow_platform.sdk.server import health
from airflow_platform.sdk.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Timeout, resolve_settings


class AsyncPlatformClient:
    """:class:`~airflow_platform.sdk.client.PlatformClient` with ``await`` and ``async with``."""

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
        http_client: httpx.AsyncClient | None = None,
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
        self._core = AsyncCore(settings, http_client)

    @property
    def base_url(self) -> str:
        return self._core.settings.base_url

    @cached_property
    def dags(self) -> AsyncDags:
        return AsyncDags(self._core)

    @cached_property
    def tasks(self) -> AsyncTasks:
        return AsyncTasks(self._core)

    @cached_property
    def tenants(self) -> AsyncTenants:
        return AsyncTenants(self._core)

    @cached_property
    def connections(self) -> AsyncConnections:
        return AsyncConnections(self._core)

    @cached_property
    def api_keys(self) -> AsyncApiKeys:
        return AsyncApiKeys(self._core)

    @cached_property
    def datakits(self) -> AsyncDataKits:
        return AsyncDataKits(self._core)

    @cached_property
    def analytics(self) -> AsyncAnalytics:
        return AsyncAnalytics(self._core)

    @cached_property
    def webhooks(self) -> AsyncWebhooks:
        return AsyncWebhooks(self._core)

    async def health(self) -> HealthResponse:
        return await self._core.run(health())

    async def airflow_version(self) -> str:
        return (await self._core.run(self._core.info.routes())).airflow_version

    async def close(self) -> None:
        await self._core.close()

    async def __aenter__(self) -> AsyncPlatformClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncPlatformClient(base_url={self.base_url!r})"
