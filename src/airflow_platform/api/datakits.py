"""``/api/v1/datakits``: the DataKit registry and deployments."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response
from pydantic import Field

from airflow_platform.api.responses import json_response
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.common import PageQuery, RequestModel
from airflow_platform.schemas.datakits import (
    DataKit,
    DataKitList,
    DataKitManifest,
    Deployment,
    DeploymentList,
    DeploymentStatus,
    DeployRequest,
    RollbackRequest,
)
from airflow_platform.services.datakits import DataKitService
from airflow_platform.services.deployments import DeploymentService

blueprint = PlatformBlueprint("datakits", __name__)
BASE = "/api/v1/datakits"
KITS, DEPLOYMENTS = "DataKits", "Deployments"
FEATURE = "datakits"  # a tenant with "datakits": false gets 403 on every call here
TAGS = ["datakits"]


def _tenant(tenant_id: str) -> Any:
    from airflow_platform.storage import db
    from airflow_platform.storage.tables import tenants

    with db.reading() as conn:
        return conn.execute(tenants.select().where(tenants.c.tenant_id == tenant_id)).first()


def _tenant_limits(tenant_id: str) -> dict[str, str]:
    found = _tenant(tenant_id)
    return dict(found.resource_limits or {}) if found is not None else {}


def _tenant_namespace(tenant_id: str) -> str | None:
    found = _tenant(tenant_id)
    return found.namespace if found is not None else None


def _registry() -> DataKitService:
    return DataKitService(tenant_limits=_tenant_limits)


def _deployments() -> DeploymentService:
    return DeploymentService(_registry(), tenant_namespace=_tenant_namespace)


class DataKitQuery(PageQuery):
    type: Literal["transformation", "ingestion", "export", "quality"] | None = Field(
        default=None, description="Only kits of this type."
    )
    tags: list[str] = Field(
        default_factory=list, description="Only kits with all these tags (comma-separated)."
    )
    search: str | None = Field(default=None, max_length=200, description="In name and description.")


class VersionQuery(RequestModel):
    version: str | None = Field(default=None, max_length=64, description="A version; default: the latest.")


@blueprint.operation(BASE, "POST", summary="Register a DataKit version", body=DataKitManifest,
                     response=DataKit, status=201, also_status=(200,), resource=KITS, feature=FEATURE,
                     tags=TAGS, yaml_body=True, errors=(400, 401, 403, 409, 429, 500))  # fmt: skip
def register_datakit(principal: Principal, body: DataKitManifest) -> Response:
    """The manifest as JSON, or ``datakit.yaml`` with ``Content-Type: application/yaml``.
    201 when the version is new; 200 when the same content was registered before; 409 when the
    version exists with other content (a version never changes)."""
    kit, created = _registry().register(principal, body)
    return json_response(kit, status=201 if created else 200)


@blueprint.operation(BASE, "GET", summary="List DataKits", query=DataKitQuery, response=DataKitList,
                     resource=KITS, feature=FEATURE, tags=TAGS)  # fmt: skip
def list_datakits(principal: Principal, query: DataKitQuery) -> DataKitList:
    items, total = _registry().list(
        principal, query.limit, query.offset, query.type, query.tags, query.search
    )
    return DataKitList(datakits=items, total_entries=total)


@blueprint.operation(f"{BASE}/deployments", "GET", summary="List deployments", query=PageQuery,
                     response=DeploymentList, resource=DEPLOYMENTS, feature=FEATURE, tags=TAGS)  # fmt: skip
def list_all_deployments(principal: Principal, query: PageQuery) -> DeploymentList:
    items, total = _deployments().list(principal, query.limit, query.offset)
    return DeploymentList(deployments=items, total_entries=total)


@blueprint.operation(f"{BASE}/deployments/<deployment_id>", "GET", summary="Deployment status",
                     response=DeploymentStatus, resource=DEPLOYMENTS, feature=FEATURE, tags=TAGS)  # fmt: skip
def get_deployment(principal: Principal, deployment_id: str) -> DeploymentStatus:
    """The deployment plus its DAG: present, paused, import error, last runs, next run, history."""
    return _deployments().status(principal, deployment_id)


@blueprint.operation(f"{BASE}/deployments/<deployment_id>", "DELETE", summary="Undeploy", status=204,
                     resource=DEPLOYMENTS, feature=FEATURE, tags=TAGS)  # fmt: skip
def undeploy(principal: Principal, deployment_id: str) -> None:
    """Removes the spec file (the DAG goes away at the next parse); runs and history stay."""
    _deployments().undeploy(principal, deployment_id)


@blueprint.operation(f"{BASE}/<datakit_id>", "GET", summary="Get a DataKit with its versions",
                     query=VersionQuery, response=DataKit, resource=KITS, feature=FEATURE,
                     tags=TAGS)  # fmt: skip
def get_datakit(principal: Principal, datakit_id: str, query: VersionQuery) -> DataKit:
    return _registry().get(principal, datakit_id, query.version)


@blueprint.operation(f"{BASE}/<datakit_id>/versions/<version>", "DELETE", summary="Delete an unused version",
                     status=204, resource=KITS, feature=FEATURE, tags=TAGS,
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def delete_version(principal: Principal, datakit_id: str, version: str) -> None:
    """Refused (409) while a deployment runs the version. Deleting the last version deletes the kit."""
    _registry().delete_version(principal, datakit_id, version)


@blueprint.operation(f"{BASE}/<datakit_id>/deploy", "POST", summary="Deploy a DataKit as a DAG",
                     body=DeployRequest, response=Deployment, status=201, also_status=(200,),
                     resource=DEPLOYMENTS, feature=FEATURE, tags=TAGS,
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def deploy_datakit(principal: Principal, datakit_id: str, body: DeployRequest) -> Response:
    """Writes the deployment spec; the DAG ``datakit__<name>__<environment>`` appears at the next
    parse. 201 for a new deployment, 200 when it updates the environment's deployment."""
    deployment, created = _deployments().deploy(principal, datakit_id, body)
    return json_response(deployment, status=201 if created else 200)


@blueprint.operation(f"{BASE}/<datakit_id>/deployments", "GET", summary="List a DataKit's deployments",
                     query=PageQuery, response=DeploymentList, resource=DEPLOYMENTS, feature=FEATURE,
                     tags=TAGS)  # fmt: skip
def list_deployments(principal: Principal, datakit_id: str, query: PageQuery) -> DeploymentList:
    items, total = _deployments().list(principal, query.limit, query.offset, datakit_id)
    return DeploymentList(deployments=items, total_entries=total)


@blueprint.operation(f"{BASE}/<datakit_id>/rollback", "POST", summary="Roll a deployment back",
                     body=RollbackRequest, response=Deployment, resource=DEPLOYMENTS, feature=FEATURE,
                     tags=TAGS, errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def rollback(principal: Principal, datakit_id: str, body: RollbackRequest) -> Deployment:
    """Runs an earlier registered version in that environment, same configuration and schedule."""
    return _deployments().rollback(principal, datakit_id, body)
