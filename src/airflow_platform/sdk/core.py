"""The one request core, shared by the sync and the async client.

:class:`BaseCore` holds every decision (URL, headers, auth, what to retry and how long to wait,
how to decode, which exception to raise). :class:`SyncCore` and :class:`AsyncCore` add only the I/O:
sending, sleeping, and driving the sans-I/O operations of :mod:`airflow_platform.sdk.calls`.
"""

from __future__ import annotations

import platform
import threading
import time
import uuid
from typing import Any, TypeVar, cast

import anyio
import httpx

from airflow_platform import exceptions as exc
from airflow_platform.sdk.auth import ApiKeyCredentials, auth_for
from airflow_platform.sdk.calls import Call, Op
from airflow_platform.sdk.errors import connection_error, error_from_response
from airflow_platform.sdk.server import DETECT, ServerInfo
from airflow_platform.sdk.settings import ClientSettings
from airflow_platform.version import __version__

T = TypeVar("T")
USER_AGENT = f"airflow-platform-sdk/{__version__} python/{platform.python_version()}"


class BaseCore:
    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.retry = settings.retry
        self.info = ServerInfo()
        self.auth = auth_for(settings.credentials, settings.base_url, self.info)
        headers = {"User-Agent": USER_AGENT}
        if isinstance(settings.credentials, ApiKeyCredentials):
            headers["X-API-Key"] = settings.credentials.key
        if settings.tenant:
            headers["X-Tenant-ID"] = settings.tenant
        headers.update(settings.headers)
        self._headers = headers

    def request_for(self, call: Call) -> httpx.Request:
        """The request to send; its X-Request-ID stays the same across retries, for support."""
        headers = {**self._headers, "Accept": call.accept, "X-Request-ID": f"req_{uuid.uuid4().hex}"}
        if call.headers:
            headers.update(call.headers)
        return httpx.Request(
            call.method,
            self.settings.base_url + call.path,
            params=call.params,
            json=call.json,
            headers=headers,
        )

    def auth_for(self, call: Call) -> httpx.Auth | None:
        return self.auth if call.authenticated else None

    @staticmethod
    def decode(response: httpx.Response, call: Call) -> Any:
        if call.expect == "none" or response.status_code == 204 or not response.content:
            return None
        if call.expect == "text":
            return response.text
        if call.expect == "bytes":
            return response.content
        return response.json()


class SyncCore(BaseCore):
    def __init__(self, settings: ClientSettings, http_client: httpx.Client | None = None) -> None:
        super().__init__(settings)
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(timeout=settings.timeout)
        self._detect_lock = threading.Lock()

    _sleep = staticmethod(time.sleep)

    def _execute_once(self, call: Call) -> Any:
        """Version detection runs once even when threads share the client."""
        if call is not DETECT:
            return self.execute(call)
        with self._detect_lock:
            return None if self.info.known else self.execute(call)

    def execute(self, call: Call) -> Any:
        request = self.request_for(call)
        auth = self.auth_for(call)
        attempt = 0
        while True:
            try:
                response = self.http.send(request, auth=auth)
            except httpx.TransportError as error:
                delay = self.retry.delay_for_error(attempt, call.is_idempotent, error)
                if delay is None:
                    raise connection_error(error, self.settings.base_url + call.path) from error
            else:
                if response.is_success:
                    return self.decode(response, call)
                delay = self.retry.delay_for_response(attempt, call.is_idempotent, response)
                if delay is None:
                    raise error_from_response(response)
            self._sleep(delay)
            attempt += 1

    def run(self, op: Op[T]) -> T:
        """Drive an operation: send what it yields, send back bodies, throw errors into it."""
        try:
            call = next(op)
            while True:
                try:
                    result = self._execute_once(call)
                except exc.PlatformError as error:
                    call = op.throw(error)
                else:
                    call = op.send(result)
        except StopIteration as stop:
            return cast(T, stop.value)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()


class AsyncCore(BaseCore):
    def __init__(self, settings: ClientSettings, http_client: httpx.AsyncClient | None = None) -> None:
        super().__init__(settings)
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=settings.timeout)
        self._detect_lock = anyio.Lock()

    _sleep = staticmethod(anyio.sleep)

    async def _execute_once(self, call: Call) -> Any:
        """Version detection runs once even when ``asyncio.gather`` starts many calls at once."""
        if call is not DETECT:
            return await self.execute(call)
        async with self._detect_lock:
            return None if self.info.known else await self.execute(call)

    async def execute(self, call: Call) -> Any:
        request = self.request_for(call)
        auth = self.auth_for(call)
        attempt = 0
        while True:
            try:
                response = await self.http.send(request, auth=auth)
            except httpx.TransportError as error:
                delay = self.retry.delay_for_error(attempt, call.is_idempotent, error)
                if delay is None:
                    raise connection_error(error, self.settings.base_url + call.path) from error
            else:
                if response.is_success:
                    return self.decode(response, call)
                delay = self.retry.delay_for_response(attempt, call.is_idempotent, response)
                if delay is None:
                    raise error_from_response(response)
            await self._sleep(delay)
            attempt += 1

    async def run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    result = await self._execute_once(call)
                except exc.PlatformError as error:
                    call = op.throw(error)
                else:
                    call = op.send(result)
        except StopIteration as stop:
            return cast(T, stop.value)

    async def close(self) -> None:
        if self._owns_http:
            await self.http.aclose()
