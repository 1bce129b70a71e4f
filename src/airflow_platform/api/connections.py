"""``/api/v1/platform/connections``: Airflow's connections, tenant-owned, secrets write-only."""

from __future__ import annotations

from typing import Any, Literal

import orjson
import yaml
from flask import Response, request
from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from airflow_platform import compat, config
from airflow_platform.api.authn import tenant_service
from airflow_platform.api.errors import validation_error
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint, load_yaml
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import ValidationError
from airflow_platform.schemas.common import PageQuery, RequestModel
from airflow_platform.schemas.connections import (
    Connection,
    ConnectionCreate,
    ConnectionExport,
    ConnectionList,
    ConnectionTestResult,
    ConnectionUpdate,
    ImportResult,
)
from airflow_platform.services.connections import ConnectionService
from airflow_platform.storage.airflow_connections import AirflowConnectionStore

blueprint = PlatformBlueprint("connections", __name__)
RESOURCE = "Connections"  # Airflow's own FAB resource: the same grants as its connection pages
BASE = f"{API_PREFIX}/connections"
TAGS = ["connections"]
FEATURE = "external_connections"  # a tenant with "external_connections": false gets 403 here


def _service() -> ConnectionService:
    return ConnectionService(
        AirflowConnectionStore(),
        redact=compat.redact,
        tenant_exists=tenant_service().exists,
        test_timeout_s=float(config.get_int("connection_test_timeout")),
    )


class ConnectionQuery(PageQuery):
    connection_type: str | None = Field(default=None, description="Only this connection type.")
    search: str | None = Field(default=None, max_length=200, description="In id and description.")


class ExportQuery(RequestModel):
    format: Literal["yaml", "json"] = "yaml"
    include_secrets: bool = Field(False, description="Passwords and unmasked extras (platform admins).")


class ImportQuery(RequestModel):
    dry_run: bool = Field(False, description="Answer what would change; change nothing.")
    on_conflict: Literal["fail", "skip", "overwrite"] = Field(
        "fail", description="What to do with connections that exist with other values."
    )


@blueprint.operation(BASE, "POST", summary="Create a connection", body=ConnectionCreate, response=Connection,
                     status=201, resource=RESOURCE, feature=FEATURE, tags=TAGS,
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def create_connection(principal: Principal, body: ConnectionCreate) -> Connection:
    """Stored in Airflow's connection table (Fernet-encrypted by Airflow), owned by your tenant."""
    return _service().create(principal, body)


@blueprint.operation(BASE, "GET", summary="List connections", query=ConnectionQuery, response=ConnectionList,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def list_connections(principal: Principal, query: ConnectionQuery) -> ConnectionList:
    items, total = _service().list(principal, query.limit, query.offset, query.connection_type, query.search)
    return ConnectionList(connections=items, total_entries=total)


@blueprint.operation(f"{BASE}/export", "GET", summary="Export connections", query=ExportQuery,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def export_connections(principal: Principal, query: ExportQuery) -> Response:
    """YAML or JSON of your tenant's connections; secrets only when a platform admin asks."""
    items = [
        c.model_dump(mode="json", by_alias=True) for c in _service().export(principal, query.include_secrets)
    ]
    document = {"connections": items}
    if query.format == "json":
        return Response(orjson.dumps(document), mimetype="application/json")
    return Response(yaml.safe_dump(document, sort_keys=False), mimetype="application/yaml")


def _import_items() -> list[ConnectionExport]:
    raw = request.get_data(cache=True)
    if "yaml" in (request.mimetype or ""):
        document: Any = load_yaml(raw)  # refuses aliases: no billion-laughs expansion
    else:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ValidationError(f"The import body is not valid JSON: {str(e).splitlines()[0]}") from None
    if isinstance(document, dict):
        document = document.get("connections")
    if not isinstance(document, list):
        raise ValidationError('The import body must be {"connections": [...]} or a list of connections.')
    try:
        return TypeAdapter(list[ConnectionExport]).validate_python(document)
    except PydanticValidationError as e:
        raise validation_error(e, "connections") from None


@blueprint.operation(f"{BASE}/import", "POST", summary="Import connections", query=ImportQuery,
                     response=ImportResult, resource=RESOURCE, feature=FEATURE, tags=TAGS,
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def import_connections(principal: Principal, query: ImportQuery) -> ImportResult:
    """Body: the export document (JSON, or YAML with ``Content-Type: application/yaml``).
    Answers what was (or, with ``dry_run``, would be) created, updated, unchanged, skipped."""
    return _service().import_(principal, _import_items(), query.dry_run, query.on_conflict)


@blueprint.operation(f"{BASE}/<connection_id>", "GET", summary="Get a connection", response=Connection,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def get_connection(principal: Principal, connection_id: str) -> Connection:
    return _service().get(principal, connection_id)


@blueprint.operation(f"{BASE}/<connection_id>", "PATCH", summary="Update a connection", body=ConnectionUpdate,
                     response=Connection, resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def update_connection(principal: Principal, connection_id: str, body: ConnectionUpdate) -> Connection:
    """Fields left out stay as they are; ``extra`` merges key by key."""
    return _service().update(principal, connection_id, body)


@blueprint.operation(f"{BASE}/<connection_id>", "DELETE", summary="Delete a connection", status=204,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def delete_connection(principal: Principal, connection_id: str) -> None:
    _service().delete(principal, connection_id)


@blueprint.operation(f"{BASE}/<connection_id>/test", "POST", summary="Test a connection",
                     response=ConnectionTestResult, resource=RESOURCE, feature=FEATURE,
                     tags=TAGS)  # fmt: skip
def test_connection(principal: Principal, connection_id: str) -> ConnectionTestResult:
    """Through the connection type's hook, with ``[platform] connection_test_timeout``."""
    return _service().test(principal, connection_id)
