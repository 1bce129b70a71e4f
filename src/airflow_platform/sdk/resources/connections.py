"""``client.connections``: Airflow connections owned by tenants (``/api/v1/platform/connections``).

Passwords go in, never out: reads show ``"***"`` where a password is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import yaml

from airflow_platform.schemas.connections import (
    Connection,
    ConnectionCreate,
    ConnectionList,
    ConnectionTestResult,
    ConnectionUpdate,
    ImportResult,
)
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op, drop_none
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated
from airflow_platform.sdk.server import PLATFORM_PREFIX

BASE = f"{PLATFORM_PREFIX}/connections"

ExportFormat = Literal["yaml", "json"]
OnConflict = Literal["fail", "skip", "overwrite"]
#: What ``import_`` takes: an export's text (YAML or JSON), its parsed document, or a list of connections.
ImportDocument = str | bytes | Mapping[str, Any] | Sequence[Any]


class ConnectionPage(SyncPage[Connection]):
    @property
    def connections(self) -> list[Connection]:
        return self.items


class AsyncConnectionPage(AsyncPage[Connection]):
    @property
    def connections(self) -> list[Connection]:
        return self.items


def _path(connection_id: str) -> str:
    return f"{BASE}/{seg(connection_id)}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _import_body(document: ImportDocument) -> dict[str, Any]:
    """Any accepted form as ``{"connections": [...]}`` (text is parsed here; YAML covers JSON)."""
    parsed: Any = document
    if isinstance(document, (str, bytes)):
        try:
            parsed = yaml.safe_load(document)
        except yaml.YAMLError as e:
            raise ValueError(
                f"The import document is not valid YAML/JSON: {str(e).splitlines()[0]}"
            ) from None
    if isinstance(parsed, Mapping):
        parsed = parsed.get("connections")
    if isinstance(parsed, (str, bytes)) or not isinstance(parsed, Sequence):
        raise ValueError('The import document must be {"connections": [...]} or a list of connections.')
    items = [c.model_dump(mode="json", by_alias=True) if hasattr(c, "model_dump") else c for c in parsed]
    return {"connections": items}


class _ConnectionOps(Ops):
    def _create(self, body: ConnectionCreate) -> Op[Connection]:
        data = yield Call("POST", BASE, json=body.model_dump(mode="json", by_alias=True, exclude_none=True))
        return Connection.model_validate(data)

    def _get(self, connection_id: str) -> Op[Connection]:
        return Connection.model_validate((yield Call("GET", _path(connection_id))))

    def _list(self, limit: int, connection_type: str | None, search: str | None) -> PageOp[Connection]:
        def op(offset: int) -> Op[PageData[Connection]]:
            params = drop_none(
                {"limit": limit, "offset": offset, "connection_type": connection_type, "search": search}
            )
            page = ConnectionList.model_validate((yield Call("GET", BASE, params=params)))
            return PageData(page.connections, page.total_entries, limit, offset)

        return op

    def _update(self, connection_id: str, body: ConnectionUpdate) -> Op[Connection]:
        data = yield Call(
            "PATCH",
            _path(connection_id),
            json=body.model_dump(mode="json", by_alias=True, exclude_unset=True),
        )
        return Connection.model_validate(data)

    def _delete(self, connection_id: str) -> Op[None]:
        yield Call("DELETE", _path(connection_id), expect="none")

    def _test(self, connection_id: str) -> Op[ConnectionTestResult]:
        return ConnectionTestResult.model_validate((yield Call("POST", f"{_path(connection_id)}/test")))

    def _export(self, format: ExportFormat, include_secrets: bool) -> Op[str]:
        text = yield Call(
            "GET",
            f"{BASE}/export",
            params={"format": format, "include_secrets": _flag(include_secrets)},
            expect="text",
            accept="application/json" if format == "json" else "application/yaml",
        )
        return str(text)

    def _import(self, body: dict[str, Any], dry_run: bool, on_conflict: OnConflict) -> Op[ImportResult]:
        data = yield Call(
            "POST",
            f"{BASE}/import",
            params={"dry_run": _flag(dry_run), "on_conflict": on_conflict},
            json=body,
            idempotent=True if dry_run else None,
        )
        return ImportResult.model_validate(data)


def _create_body(connection_id: str, connection_type: str, **fields: Any) -> ConnectionCreate:
    given = {k: v for k, v in fields.items() if v is not None}
    return validated(ConnectionCreate, connection_id=connection_id, connection_type=connection_type, **given)


def _update_body(fields: dict[str, Any]) -> ConnectionUpdate:
    """Only the fields given are sent (``password=None`` clears the password)."""
    return validated(ConnectionUpdate, **fields)


class Connections(_ConnectionOps, SyncResource):
    def create(
        self,
        connection_id: str,
        connection_type: str,
        *,
        description: str | None = None,
        host: str | None = None,
        port: int | None = None,
        schema: str | None = None,
        login: str | None = None,
        password: str | None = None,
        extra: dict[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> Connection:
        """Owned by your tenant (``tenant_id``: platform admins only). The answer masks the password."""
        body = _create_body(
            connection_id,
            connection_type,
            description=description,
            host=host,
            port=port,
            schema=schema,
            login=login,
            password=password,
            extra=extra,
            tenant_id=tenant_id,
        )
        return self._run(self._create(body))

    def get(self, connection_id: str) -> Connection:
        return self._run(self._get(connection_id))

    def list(
        self,
        *,
        connection_type: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> ConnectionPage:
        return self._page(ConnectionPage, self._list(limit, connection_type, search), offset)

    def update(self, connection_id: str, **fields: Any) -> Connection:
        """PATCH: only the fields given change; ``extra`` merges key by key; ``password=None`` clears it."""
        return self._run(self._update(connection_id, _update_body(fields)))

    def delete(self, connection_id: str) -> None:
        self._run(self._delete(connection_id))

    def test(self, connection_id: str) -> ConnectionTestResult:
        """Through the connection type's hook; ``status`` is ``success`` or ``failed``."""
        return self._run(self._test(connection_id))

    def export(self, format: ExportFormat = "yaml", *, include_secrets: bool = False) -> str:
        """Your tenant's connections as YAML or JSON text (secrets: platform admins only)."""
        return self._run(self._export(format, include_secrets))

    def import_(
        self, document: ImportDocument, *, dry_run: bool = False, on_conflict: OnConflict = "fail"
    ) -> ImportResult:
        """An export (text or parsed) or a list of connections; ``dry_run`` changes nothing."""
        return self._run(self._import(_import_body(document), dry_run, on_conflict))


class AsyncConnections(_ConnectionOps, AsyncResource):
    async def create(
        self,
        connection_id: str,
        connection_type: str,
        *,
        description: str | None = None,
        host: str | None = None,
        port: int | None = None,
        schema: str | None = None,
        login: str | None = None,
        password: str | None = None,
        extra: dict[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> Connection:
        body = _create_body(
            connection_id,
            connection_type,
            description=description,
            host=host,
            port=port,
            schema=schema,
            login=login,
            password=password,
            extra=extra,
            tenant_id=tenant_id,
        )
        return await self._run(self._create(body))

    async def get(self, connection_id: str) -> Connection:
        return await self._run(self._get(connection_id))

    def list(
        self,
        *,
        connection_type: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[Connection, AsyncConnectionPage]:
        return self._paginator(AsyncConnectionPage, self._list(limit, connection_type, search), offset)

    async def update(self, connection_id: str, **fields: Any) -> Connection:
        return await self._run(self._update(connection_id, _update_body(fields)))

    async def delete(self, connection_id: str) -> None:
        await self._run(self._delete(connection_id))

    async def test(self, connection_id: str) -> ConnectionTestResult:
        return await self._run(self._test(connection_id))

    async def export(self, format: ExportFormat = "yaml", *, include_secrets: bool = False) -> str:
        return await self._run(self._export(format, include_secrets))

    async def import_(
        self, document: ImportDocument, *, dry_run: bool = False, on_conflict: OnConflict = "fail"
    ) -> ImportResult:
        return await self._run(self._import(_import_body(document), dry_run, on_conflict))
