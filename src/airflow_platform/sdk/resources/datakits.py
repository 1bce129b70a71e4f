"""``client.datakits``: the DataKit registry and deployments (``/api/v1/datakits``).

A kit's id is its name. A deployment's id is its DAG id; ``get_deployment_status`` adds what
Airflow says about that DAG (parsed yet, paused, last runs, next run).
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
import yaml

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
from airflow_platform.sdk.airflow_routes import seg
from airflow_platform.sdk.calls import Call, Op, drop_none
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage
from airflow_platform.sdk.resources.base import AsyncResource, Ops, PageOp, SyncResource, validated

BASE = "/api/v1/datakits"
DEPLOYMENTS = f"{BASE}/deployments"

DataKitType = Literal["transformation", "ingestion", "export", "quality"]
Runtime = Literal["docker", "kubernetes"]
#: Manifest fields ``register`` takes as keywords (they win over the same keys of ``manifest``).
MANIFEST_FIELDS = (
    "name",
    "version",
    "description",
    "image",
    "type",
    "inputs",
    "outputs",
    "configuration",
    "requirements",
    "tags",
)
#: A deployment status that means Airflow has not parsed the DAG yet.
PENDING = "pending"


class DataKitPage(SyncPage[DataKit]):
    @property
    def datakits(self) -> list[DataKit]:
        return self.items


class AsyncDataKitPage(AsyncPage[DataKit]):
    @property
    def datakits(self) -> list[DataKit]:
        return self.items


class DeploymentPage(SyncPage[Deployment]):
    @property
    def deployments(self) -> list[Deployment]:
        return self.items


class AsyncDeploymentPage(AsyncPage[Deployment]):
    @property
    def deployments(self) -> list[Deployment]:
        return self.items


def _kit(name: str) -> str:
    return f"{BASE}/{seg(name)}"


def _deployment(deployment_id: str) -> str:
    return f"{DEPLOYMENTS}/{seg(deployment_id)}"


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A ``datakit.yaml`` (or JSON: YAML reads it too) as a dict; ``ValueError`` says what is wrong."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"Cannot read {file}: {error.strerror or error}") from None
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{file} is not valid YAML/JSON: {str(error).splitlines()[0]}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{file} must hold one manifest (a mapping with name, version, image, ...).")
    return parsed


def manifest_body(
    manifest: Mapping[str, Any] | DataKitManifest | None, fields: Mapping[str, Any]
) -> DataKitManifest:
    """The manifest to send: ``manifest`` with the given keyword fields on top, checked here so that a
    typo fails before the request, the way the server would fail it."""
    if isinstance(manifest, DataKitManifest):
        base: dict[str, Any] = manifest.model_dump(mode="json", by_alias=True, exclude_unset=True)
    else:
        base = dict(manifest or {})
    base.update({key: value for key, value in fields.items() if value is not None})
    return validated(DataKitManifest, **base)


def deploy_body(**fields: Any) -> DeployRequest:
    return validated(DeployRequest, **{key: value for key, value in fields.items() if value is not None})


def _dump(body: DataKitManifest | DeployRequest | RollbackRequest) -> dict[str, Any]:
    return body.model_dump(mode="json", by_alias=True, exclude_unset=True)


class _DataKitOps(Ops):
    def _register(self, body: DataKitManifest) -> Op[DataKit]:
        # Registering the same version with the same content answers 200 with the stored kit, so a
        # retry after a lost answer is harmless: retried like a PUT.
        data = yield Call("POST", BASE, json=_dump(body), idempotent=True)
        return DataKit.model_validate(data)

    def _get(self, name: str, version: str | None) -> Op[DataKit]:
        params = drop_none({"version": version})
        return DataKit.model_validate((yield Call("GET", _kit(name), params=params or None)))

    def _list(
        self, limit: int, type: str | None, tags: Sequence[str] | None, search: str | None
    ) -> PageOp[DataKit]:
        tag_param = ",".join(tags) if tags else None

        def op(offset: int) -> Op[PageData[DataKit]]:
            params = drop_none(
                {"limit": limit, "offset": offset, "type": type, "tags": tag_param, "search": search}
            )
            page = DataKitList.model_validate((yield Call("GET", BASE, params=params)))
            return PageData(page.datakits, page.total_entries, limit, offset)

        return op

    def _delete_version(self, name: str, version: str) -> Op[None]:
        yield Call("DELETE", f"{_kit(name)}/versions/{seg(version)}", expect="none")

    def _deploy(self, name: str, body: DeployRequest) -> Op[Deployment]:
        return Deployment.model_validate((yield Call("POST", f"{_kit(name)}/deploy", json=_dump(body))))

    def _list_deployments(self, name: str | None, limit: int) -> PageOp[Deployment]:
        path = DEPLOYMENTS if name is None else f"{_kit(name)}/deployments"

        def op(offset: int) -> Op[PageData[Deployment]]:
            params = {"limit": limit, "offset": offset}
            page = DeploymentList.model_validate((yield Call("GET", path, params=params)))
            return PageData(page.deployments, page.total_entries, limit, offset)

        return op

    def _status(self, deployment_id: str) -> Op[DeploymentStatus]:
        return DeploymentStatus.model_validate((yield Call("GET", _deployment(deployment_id))))

    def _rollback(self, name: str, body: RollbackRequest) -> Op[Deployment]:
        return Deployment.model_validate((yield Call("POST", f"{_kit(name)}/rollback", json=_dump(body))))

    def _undeploy(self, deployment_id: str) -> Op[None]:
        yield Call("DELETE", _deployment(deployment_id), expect="none")


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _check_deadline(status: DeploymentStatus, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"Deployment {status.id} is still {status.status}: Airflow has not parsed its DAG")


class DataKits(_DataKitOps, SyncResource):
    def register(
        self,
        manifest: Mapping[str, Any] | DataKitManifest | None = None,
        *,
        name: str | None = None,
        version: str | None = None,
        image: str | None = None,
        description: str | None = None,
        type: DataKitType | None = None,
        inputs: builtins.list[dict[str, Any]] | None = None,
        outputs: builtins.list[dict[str, Any]] | None = None,
        configuration: dict[str, dict[str, Any]] | None = None,
        requirements: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
    ) -> DataKit:
        """Register a version (a whole ``manifest``, keyword fields, or both: keywords win).

        A version never changes: the same content again answers the stored kit, different content
        raises ``ConflictError``."""
        fields = {
            "name": name, "version": version, "image": image, "description": description, "type": type,
            "inputs": inputs, "outputs": outputs, "configuration": configuration,
            "requirements": requirements, "tags": tags,
        }  # fmt: skip
        return self._run(self._register(manifest_body(manifest, fields)))

    def register_file(
        self, path: str | os.PathLike[str], *, image: str | None = None, version: str | None = None
    ) -> DataKit:
        """Register a ``datakit.yaml`` (or JSON), optionally with another image or version."""
        return self._run(
            self._register(manifest_body(read_manifest(path), {"image": image, "version": version}))
        )

    def get(self, datakit_id: str, version: str | None = None) -> DataKit:
        """The latest version's manifest (or ``version``'s), with every version in ``versions``."""
        return self._run(self._get(datakit_id, version))

    def list(
        self,
        *,
        type: DataKitType | str | None = None,
        tags: builtins.list[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> DataKitPage:
        """Kits you can see; ``tags``: kits with all of them; ``search``: in name and description."""
        return self._page(DataKitPage, self._list(limit, type, tags, search), offset)

    def delete_version(self, datakit_id: str, version: str) -> None:
        """Raises ``ConflictError`` while a deployment runs that version."""
        self._run(self._delete_version(datakit_id, version))

    def deploy(
        self,
        datakit_id: str,
        *,
        environment: str = "production",
        version: str | None = None,
        schedule: str | None = None,
        configuration: dict[str, Any] | None = None,
        notifications: dict[str, builtins.list[str]] | None = None,
        namespace: str | None = None,
        runtime: Runtime | None = None,
        inputs: dict[str, str] | None = None,
        outputs: dict[str, str] | None = None,
        paused: bool | None = None,
        timeout_seconds: int | None = None,
    ) -> Deployment:
        """Deploy a version (default: the latest) to ``environment`` as a scheduled DAG; deploying to
        an environment again updates its deployment."""
        body = deploy_body(
            environment=environment, version=version, schedule=schedule, configuration=configuration,
            notifications=notifications, namespace=namespace, runtime=runtime, inputs=inputs,
            outputs=outputs, paused=paused, timeout_seconds=timeout_seconds,
        )  # fmt: skip
        return self._run(self._deploy(datakit_id, body))

    def list_deployments(
        self, datakit_id: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> DeploymentPage:
        """One kit's deployments, or every deployment you can see."""
        return self._page(DeploymentPage, self._list_deployments(datakit_id, limit), offset)

    def get_deployment_status(self, deployment_id: str) -> DeploymentStatus:
        return self._run(self._status(deployment_id))

    def wait_for_deployment(
        self,
        deployment_id: str,
        *,
        timeout: float | None = 120.0,
        poll_interval: float = 2.0,
        on_poll: Callable[[DeploymentStatus], None] | None = None,
    ) -> DeploymentStatus:
        """Poll until Airflow has parsed the deployment's DAG (status no longer ``pending``)."""
        deadline = _deadline(timeout)
        status = self.get_deployment_status(deployment_id)
        while status.status == PENDING:
            _check_deadline(status, deadline)
            time.sleep(poll_interval)
            status = self.get_deployment_status(deployment_id)
            if on_poll is not None:
                on_poll(status)
        return status

    def rollback(self, datakit_id: str, version: str, environment: str = "production") -> Deployment:
        """Run an earlier registered version in ``environment`` again."""
        body = validated(RollbackRequest, version=version, environment=environment)
        return self._run(self._rollback(datakit_id, body))

    def undeploy(self, deployment_id: str) -> None:
        """Remove a deployment (its DAG goes away; its runs' history stays in Airflow)."""
        self._run(self._undeploy(deployment_id))


class AsyncDataKits(_DataKitOps, AsyncResource):
    async def register(
        self,
        manifest: Mapping[str, Any] | DataKitManifest | None = None,
        *,
        name: str | None = None,
        version: str | None = None,
        image: str | None = None,
        description: str | None = None,
        type: DataKitType | None = None,
        inputs: builtins.list[dict[str, Any]] | None = None,
        outputs: builtins.list[dict[str, Any]] | None = None,
        configuration: dict[str, dict[str, Any]] | None = None,
        requirements: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
    ) -> DataKit:
        fields = {
            "name": name, "version": version, "image": image, "description": description, "type": type,
            "inputs": inputs, "outputs": outputs, "configuration": configuration,
            "requirements": requirements, "tags": tags,
        }  # fmt: skip
        return await self._run(self._register(manifest_body(manifest, fields)))

    async def register_file(
        self, path: str | os.PathLike[str], *, image: str | None = None, version: str | None = None
    ) -> DataKit:
        body = manifest_body(read_manifest(path), {"image": image, "version": version})
        return await self._run(self._register(body))

    async def get(self, datakit_id: str, version: str | None = None) -> DataKit:
        return await self._run(self._get(datakit_id, version))

    def list(
        self,
        *,
        type: DataKitType | str | None = None,
        tags: builtins.list[str] | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AsyncPaginator[DataKit, AsyncDataKitPage]:
        return self._paginator(AsyncDataKitPage, self._list(limit, type, tags, search), offset)

    async def delete_version(self, datakit_id: str, version: str) -> None:
        await self._run(self._delete_version(datakit_id, version))

    async def deploy(
        self,
        datakit_id: str,
        *,
        environment: str = "production",
        version: str | None = None,
        schedule: str | None = None,
        configuration: dict[str, Any] | None = None,
        notifications: dict[str, builtins.list[str]] | None = None,
        namespace: str | None = None,
        runtime: Runtime | None = None,
        inputs: dict[str, str] | None = None,
        outputs: dict[str, str] | None = None,
        paused: bool | None = None,
        timeout_seconds: int | None = None,
    ) -> Deployment:
        body = deploy_body(
            environment=environment, version=version, schedule=schedule, configuration=configuration,
            notifications=notifications, namespace=namespace, runtime=runtime, inputs=inputs,
            outputs=outputs, paused=paused, timeout_seconds=timeout_seconds,
        )  # fmt: skip
        return await self._run(self._deploy(datakit_id, body))

    def list_deployments(
        self, datakit_id: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> AsyncPaginator[Deployment, AsyncDeploymentPage]:
        return self._paginator(AsyncDeploymentPage, self._list_deployments(datakit_id, limit), offset)

    async def get_deployment_status(self, deployment_id: str) -> DeploymentStatus:
        return await self._run(self._status(deployment_id))

    async def wait_for_deployment(
        self,
        deployment_id: str,
        *,
        timeout: float | None = 120.0,
        poll_interval: float = 2.0,
        on_poll: Callable[[DeploymentStatus], None] | None = None,
    ) -> DeploymentStatus:
        deadline = _deadline(timeout)
        status = await self.get_deployment_status(deployment_id)
        while status.status == PENDING:
            _check_deadline(status, deadline)
            await anyio.sleep(poll_interval)
            status = await self.get_deployment_status(deployment_id)
            if on_poll is not None:
                on_poll(status)
        return status

    async def rollback(self, datakit_id: str, version: str, environment: str = "production") -> Deployment:
        body = validated(RollbackRequest, version=version, environment=environment)
        return await self._run(self._rollback(datakit_id, body))

    async def undeploy(self, deployment_id: str) -> None:
        await self._run(self._undeploy(deployment_id))
