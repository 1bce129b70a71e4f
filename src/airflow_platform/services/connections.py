"""Airflow connections as tenant-owned platform objects: CRUD, test, export and import."""

from __future__ import annotations

import builtins
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import (
    ConflictError,
    PermissionDeniedError,
    ResourceNotFoundError,
    ValidationError,
)
from airflow_platform.schemas.connections import (
    MASK,
    Connection,
    ConnectionCreate,
    ConnectionExport,
    ConnectionTestResult,
    ConnectionUpdate,
    ImportResult,
)
from airflow_platform.services.ownership import owner_for_new
from airflow_platform.storage.airflow_connections import AirflowConnectionStore, StoredConnection

#: Connection tests run here, so a hook that hangs ties up a worker thread, never a request.
_TEST_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="platform-conn-test")


class ConnectionService:
    def __init__(
        self,
        store: AirflowConnectionStore,
        redact: Callable[[Any], Any],
        tenant_exists: Callable[[str], bool],
        test_timeout_s: float = 10.0,
    ) -> None:
        self.store = store
        self.redact = redact
        self.tenant_exists = tenant_exists
        self.test_timeout_s = test_timeout_s

    # --- visibility ------------------------------------------------------------------------------

    @staticmethod
    def _scope(principal: Principal) -> tuple[str | None, bool]:
        return principal.tenant_id, principal.tenant_id is None

    def _get(self, principal: Principal, conn_id: str) -> StoredConnection:
        tenant, everyone = self._scope(principal)
        found = self.store.get(conn_id, tenant, everyone)
        if found is None:
            raise ResourceNotFoundError(
                f"Connection {conn_id!r} not found.", details={"connection_id": conn_id}
            )
        return found

    def to_model(self, stored: StoredConnection) -> Connection:
        return Connection(
            connection_id=stored.conn_id,
            connection_type=stored.conn_type,
            description=stored.description,
            host=stored.host,
            port=stored.port,
            schema_=stored.schema,
            login=stored.login,
            password=MASK if stored.password else None,
            extra=self.redact(stored.extra),
            tenant_id=stored.tenant_id,
        )

    # --- CRUD ------------------------------------------------------------------------------------

    def create(self, principal: Principal, body: ConnectionCreate) -> Connection:
        tenant = owner_for_new(principal, body.tenant_id, self.tenant_exists, "connection")
        if self.store.exists(body.connection_id):
            # Connection ids are global in Airflow: say it is taken, not whose it is.
            raise ConflictError(
                f"Connection id {body.connection_id!r} is already taken.",
                details={"connection_id": body.connection_id},
            )
        self.store.create(
            StoredConnection(
                conn_id=body.connection_id, conn_type=body.connection_type, description=body.description,
                host=body.host, port=body.port, schema=body.schema_, login=body.login, password=body.password,
                extra=body.extra, tenant_id=tenant,
            ),
            created_by=principal.username,
        )  # fmt: skip
        return self.get(principal, body.connection_id)

    def get(self, principal: Principal, conn_id: str) -> Connection:
        return self.to_model(self._get(principal, conn_id))

    def list(
        self, principal: Principal, limit: int, offset: int, conn_type: str | None, search: str | None
    ) -> tuple[builtins.list[Connection], int]:
        tenant, everyone = self._scope(principal)
        rows, total = self.store.list(tenant, everyone, limit, offset, conn_type, search)
        return [self.to_model(r) for r in rows], total

    def update(self, principal: Principal, conn_id: str, body: ConnectionUpdate) -> Connection:
        current = self._get(principal, conn_id)
        changes = self._changes(current, body)
        if changes:
            self.store.update(conn_id, changes)
        return self.get(principal, conn_id)

    @staticmethod
    def _merge_extra(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        merged = dict(current)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif value != MASK:  # a masked value sent back means "keep what is stored"
                merged[key] = value
        return merged

    def _changes(self, current: StoredConnection, body: ConnectionUpdate) -> dict[str, Any]:
        given = body.model_fields_set
        mapping = {"connection_type": "conn_type", "schema_": "schema"}
        changes: dict[str, Any] = {}
        for name in ("connection_type", "description", "host", "port", "schema_", "login"):
            if name in given:
                if name == "connection_type" and body.connection_type is None:
                    raise ValidationError("connection_type cannot be removed.")
                changes[mapping.get(name, name)] = getattr(body, name)
        if "password" in given and body.password != MASK:
            changes["password"] = body.password
        if "extra" in given:
            changes["extra"] = (
                self._merge_extra(current.extra, body.extra or {}) if body.extra is not None else {}
            )
        return changes

    def delete(self, principal: Principal, conn_id: str) -> None:
        self._get(principal, conn_id)
        self.store.delete(conn_id)

    # --- test ------------------------------------------------------------------------------------

    def test(self, principal: Principal, conn_id: str) -> ConnectionTestResult:
        self._get(principal, conn_id)
        started = time.perf_counter()
        future = _TEST_POOL.submit(self._run_test, conn_id)
        try:
            ok, message = future.result(timeout=self.test_timeout_s)
        except concurrent.futures.TimeoutError:
            ok, message = False, f"No answer within {self.test_timeout_s:g} s (the test was abandoned)."
        latency = int((time.perf_counter() - started) * 1000)
        return ConnectionTestResult(status="success" if ok else "failed", message=message, latency_ms=latency)

    def _run_test(self, conn_id: str) -> tuple[bool, str]:
        try:
            conn = self.store.airflow_connection(conn_id)
            hook = conn.get_hook()
        except Exception as e:
            return False, f"No hook for this connection type: {_one_line(e)}"
        if not hasattr(hook, "test_connection"):
            return False, f"The {type(hook).__name__} hook cannot test connections."
        try:
            ok, message = hook.test_connection()
        except Exception as e:
            return False, _one_line(e)
        if ok:
            return True, "Connection successfully tested"
        return False, _one_line(message)

    # --- export / import -------------------------------------------------------------------------

    def export(self, principal: Principal, include_secrets: bool) -> builtins.list[ConnectionExport]:
        if include_secrets and not principal.is_platform_admin:
            raise PermissionDeniedError("Only platform admins may export connection secrets.")
        tenant, everyone = self._scope(principal)
        out: builtins.list[ConnectionExport] = []
        offset = 0
        while True:
            rows, total = self.store.list(tenant, everyone, 500, offset)
            for row in rows:
                out.append(
                    ConnectionExport(
                        connection_id=row.conn_id, connection_type=row.conn_type, description=row.description,
                        host=row.host, port=row.port, schema=row.schema, login=row.login,
                        password=row.password if include_secrets else None,
                        extra=row.extra if include_secrets else self.redact(row.extra),
                    )
                )  # fmt: skip
            offset += len(rows)
            if not rows or offset >= total:
                return out

    def import_(
        self, principal: Principal, items: builtins.list[ConnectionExport], dry_run: bool, on_conflict: str
    ) -> ImportResult:
        ids = [i.connection_id for i in items]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationError(
                f"Connection ids appear twice: {', '.join(duplicates)}.", details={"duplicates": duplicates}
            )
        tenant, everyone = self._scope(principal)
        plan: dict[str, builtins.list[str]] = {"created": [], "updated": [], "unchanged": [], "skipped": []}
        actions: builtins.list[tuple[str, ConnectionExport, StoredConnection | None]] = []
        conflicts: builtins.list[str] = []
        for item in items:
            mine = self.store.get(item.connection_id, tenant, everyone)
            if mine is None:
                if self.store.exists(item.connection_id):  # someone else's: never touched
                    conflicts.append(item.connection_id)
                    plan["skipped"].append(item.connection_id)
                    continue
                plan["created"].append(item.connection_id)
                actions.append(("create", item, None))
                continue
            changes = self._import_changes(mine, item)
            if not changes:
                plan["unchanged"].append(item.connection_id)
            elif on_conflict == "skip":
                plan["skipped"].append(item.connection_id)
            elif on_conflict == "fail":
                conflicts.append(item.connection_id)
            else:
                plan["updated"].append(item.connection_id)
                actions.append(("update", item, mine))
        if on_conflict == "fail" and conflicts:
            raise ConflictError(
                f"{len(conflicts)} connection(s) already exist with other values: {', '.join(conflicts)}. "
                "Nothing was imported; use on_conflict=skip or overwrite.",
                details={"conflicts": conflicts},
            )
        if not dry_run:
            for action, item, current in actions:
                if action == "create":
                    self.store.create(self._stored_from(item, tenant), created_by=principal.username)
                else:
                    assert current is not None
                    self.store.update(item.connection_id, self._import_changes(current, item))
        return ImportResult(dry_run=dry_run, **plan)

    @staticmethod
    def _stored_from(item: ConnectionExport, tenant: str | None) -> StoredConnection:
        extra = {k: v for k, v in item.extra.items() if v != MASK}
        return StoredConnection(
            conn_id=item.connection_id, conn_type=item.connection_type, description=item.description,
            host=item.host, port=item.port, schema=item.schema_, login=item.login, password=item.password,
            extra=extra, tenant_id=tenant,
        )  # fmt: skip

    def _import_changes(self, current: StoredConnection, item: ConnectionExport) -> dict[str, Any]:
        wanted = {
            "conn_type": item.connection_type, "description": item.description, "host": item.host,
            "port": item.port, "schema": item.schema_, "login": item.login,
        }  # fmt: skip
        changes: dict[str, Any] = {k: v for k, v in wanted.items() if getattr(current, k) != v}
        if item.password is not None and item.password != current.password:
            changes["password"] = item.password
        extra = {k: (current.extra.get(k) if v == MASK else v) for k, v in item.extra.items()}
        extra = {k: v for k, v in extra.items() if v is not None}
        if extra != current.extra:
            changes["extra"] = extra
        return changes


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:500] or "The test failed without a message."
