"""Deployments: a registered kit version + configuration + schedule, running as a DAG.

The metadata DB holds the deployment (what the API answers from); a JSON spec file holds what the
DAG factory needs to build the DAG, so parsing and tasks never touch the DB. Every change writes
both in one step (the file inside the DB transaction) and leaves an event in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from airflow_platform.auth.principal import Principal
from airflow_platform.datakits import files
from airflow_platform.exceptions import ConflictError, ResourceNotFoundError, ValidationError
from airflow_platform.schemas.datakits import (
    DagRunSummary,
    Deployment,
    DeploymentEvent,
    DeploymentStatus,
    DeployRequest,
    RollbackRequest,
    configuration_problems,
    dag_id_for,
    valid_schedule,
)
from airflow_platform.services.datakits import DataKitService
from airflow_platform.storage import airflow_dags, db
from airflow_platform.storage.tables import deployment_events, deployments


def _to_model(row: Any, spec: dict[str, Any] | None = None) -> Deployment:
    extra = spec or {}
    return Deployment(
        id=row.deployment_id,
        dag_id=row.deployment_id,
        datakit=row.datakit,
        version=row.version,
        environment=row.environment,
        namespace=row.namespace,
        configuration=row.configuration,
        schedule=row.schedule,
        notifications=row.notifications,
        runtime=row.runtime,
        inputs=extra.get("inputs", {}),
        outputs=extra.get("outputs", {}),
        paused=extra.get("paused", False),
        timeout_seconds=extra.get("timeout_seconds"),
        tenant_id=row.tenant_id,
        created_by=row.created_by,
        created_at=db.as_utc(row.created_at),
        updated_at=db.as_utc(row.updated_at),
    )


class DeploymentService:
    def __init__(
        self,
        registry: DataKitService,
        tenant_namespace: Callable[[str], str | None],
        folder: str | None = None,
    ) -> None:
        self.registry = registry
        self.tenant_namespace = tenant_namespace
        self.folder = folder

    # --- checks ----------------------------------------------------------------------------------

    @staticmethod
    def _check(manifest: dict[str, Any], body: DeployRequest) -> None:
        problems = configuration_problems(manifest["configuration"], body.configuration)
        merged = {k: v.get("default") for k, v in manifest["configuration"].items()} | body.configuration
        problems += [p for p in configuration_problems(manifest["configuration"], merged, complete=True)
                     if p.endswith(": required")]  # fmt: skip
        if problems:
            raise ValidationError(
                f"configuration does not fit {manifest['name']} {manifest['version']}: "
                f"{'; '.join(problems)}.",
                details={"problems": problems, "schema": manifest["configuration"]},
            )
        if body.schedule is not None and not valid_schedule(body.schedule):
            raise ValidationError(
                f"schedule {body.schedule!r} is neither a cron expression ('0 2 * * *') nor an "
                "Airflow preset ('@daily', '@hourly', ...).",
                details={"schedule": body.schedule},
            )
        for kind in ("inputs", "outputs"):
            ports = {p["name"] for p in manifest[kind]}
            unknown = sorted(set(getattr(body, kind)) - ports)
            if unknown:
                raise ValidationError(
                    f"{kind}: {', '.join(unknown)} are not {kind} of {manifest['name']} "
                    f"(it has {', '.join(sorted(ports)) or 'none'}).",
                    details={kind: unknown},
                )

    def _visible(self, principal: Principal) -> Any:
        return sa.true() if principal.tenant_id is None else deployments.c.tenant_id == principal.tenant_id

    def _row(self, principal: Principal, deployment_id: str) -> Any:
        with db.reading() as conn:
            row = conn.execute(
                sa.select(deployments).where(
                    deployments.c.deployment_id == deployment_id, self._visible(principal)
                )
            ).first()
        if row is None:
            raise ResourceNotFoundError(
                f"Deployment {deployment_id!r} not found.", details={"deployment_id": deployment_id}
            )
        return row

    # --- deploy ----------------------------------------------------------------------------------

    def _spec(self, row: dict[str, Any], manifest: dict[str, Any], body: DeployRequest) -> dict[str, Any]:
        return {
            "dag_id": row["deployment_id"],
            "deployment_id": row["deployment_id"],
            "datakit": row["datakit"],
            "version": row["version"],
            "environment": row["environment"],
            "tenant_id": row["tenant_id"],
            "namespace": row["namespace"],
            "schedule": row["schedule"],
            "configuration": row["configuration"],
            "notifications": row["notifications"],
            "runtime": row["runtime"],
            "inputs": body.inputs,
            "outputs": body.outputs,
            "paused": body.paused,
            "timeout_seconds": body.timeout_seconds,
            "owner": row["created_by"],
            "updated_at": row["updated_at"].isoformat(),
            "manifest": manifest,
        }

    def deploy(
        self, principal: Principal, name: str, body: DeployRequest, action: str | None = None
    ) -> tuple[Deployment, bool]:
        """Create or update the deployment of ``name`` in ``body.environment``; True when created."""
        try:
            return self._deploy(principal, name, body, action)
        except sa.exc.IntegrityError:
            # Two first deploys of one environment raced: the loser updates what the winner made.
            return self._deploy(principal, name, body, action)

    def _deploy(
        self, principal: Principal, name: str, body: DeployRequest, action: str | None
    ) -> tuple[Deployment, bool]:
        manifest = self.registry.manifest(principal, name, body.version)
        version = manifest["version"]
        self._check(manifest, body)
        tenant = principal.tenant_id
        self.registry.check_limits(principal, manifest["requirements"], tenant)
        dag_id = dag_id_for(name, body.environment)
        now = db.utcnow()
        with db.transaction() as conn:
            existing = conn.execute(
                sa.select(deployments).where(deployments.c.deployment_id == dag_id)
            ).first()
            if existing is not None and existing.tenant_id != tenant and tenant is not None:
                raise ConflictError(
                    f"{dag_id} is deployed by another tenant.", details={"deployment_id": dag_id}
                )
            values: dict[str, Any] = {
                "deployment_id": dag_id,
                "datakit": name,
                "version": version,
                "environment": body.environment,
                "tenant_id": existing.tenant_id if existing is not None else tenant,
                "namespace": body.namespace or (self.tenant_namespace(tenant) if tenant else None),
                "configuration": body.configuration,
                "schedule": body.schedule,
                "notifications": body.notifications.model_dump(),
                "runtime": body.runtime,
                "created_by": existing.created_by if existing is not None else principal.username,
                "created_at": existing.created_at if existing is not None else now,
                "updated_at": now,
            }
            if existing is None:
                conn.execute(deployments.insert().values(**values))
            else:
                conn.execute(
                    deployments.update().where(deployments.c.deployment_id == dag_id).values(**values)
                )
            action = action or ("deploy" if existing is None else "redeploy")
            conn.execute(
                deployment_events.insert().values(
                    deployment_id=dag_id, action=action, version=version, username=principal.username, at=now
                )
            )
            files.write_spec(self._spec(values, manifest, body), self.folder)
        airflow_dags.set_paused(dag_id, body.paused)  # creation-time pausing is the factory's
        return self.get(principal, dag_id), existing is None

    def rollback(self, principal: Principal, name: str, body: RollbackRequest) -> Deployment:
        dag_id = dag_id_for(name, body.environment)
        current = self._row(principal, dag_id)
        if current.version == body.version:
            raise ConflictError(
                f"{dag_id} already runs {name} {body.version}.", details={"version": body.version}
            )
        spec = self._read_spec(dag_id)
        request = DeployRequest(
            environment=body.environment, version=body.version, namespace=current.namespace,
            configuration=current.configuration, schedule=current.schedule,
            notifications=current.notifications, runtime=current.runtime,
            inputs=spec.get("inputs", {}), outputs=spec.get("outputs", {}), paused=spec.get("paused", False),
            timeout_seconds=spec.get("timeout_seconds"),
        )  # fmt: skip
        try:
            deployment, _ = self.deploy(principal, name, request, action="rollback")
        except ValidationError as e:
            raise ValidationError(
                f"Cannot roll {dag_id} back to {body.version}: {e.message}", details=e.details
            ) from None
        return deployment

    def undeploy(self, principal: Principal, deployment_id: str) -> None:
        row = self._row(principal, deployment_id)
        with db.transaction() as conn:
            conn.execute(deployments.delete().where(deployments.c.deployment_id == deployment_id))
            conn.execute(
                deployment_events.insert().values(
                    deployment_id=deployment_id, action="undeploy", version=row.version,
                    username=principal.username, at=db.utcnow(),
                )
            )  # fmt: skip
            files.delete_spec(deployment_id, self.folder)

    # --- read ------------------------------------------------------------------------------------

    def _read_spec(self, dag_id: str) -> dict[str, Any]:
        import json

        path = files.spec_path(dag_id, self.folder)
        try:
            spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return spec

    def get(self, principal: Principal, deployment_id: str) -> Deployment:
        return _to_model(self._row(principal, deployment_id), self._read_spec(deployment_id))

    def list(
        self, principal: Principal, limit: int, offset: int, datakit: str | None = None
    ) -> tuple[list[Deployment], int]:
        where = [self._visible(principal)]
        if datakit is not None:
            self.registry.get(principal, datakit)  # 404 for a kit the caller cannot see
            where.append(deployments.c.datakit == datakit)
        with db.reading() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(deployments).where(*where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(deployments)
                .where(*where)
                .order_by(deployments.c.deployment_id)
                .limit(limit)
                .offset(offset)
            ).all()
        return [_to_model(r, self._read_spec(r.deployment_id)) for r in rows], int(total)

    def status(self, principal: Principal, deployment_id: str) -> DeploymentStatus:
        deployment = self.get(principal, deployment_id)
        dag = airflow_dags.dag_state(deployment_id, files.FACTORY_FILE)
        with db.reading() as conn:
            events = conn.execute(
                sa.select(deployment_events)
                .where(deployment_events.c.deployment_id == deployment_id)
                .order_by(deployment_events.c.id.desc())
                .limit(20)
            ).all()
        last_state = dag.runs[0]["state"] if dag.runs else None
        status: str
        if not dag.present:
            status = "import_error" if dag.import_error else "pending"
        elif dag.is_paused:
            status = "paused"
        elif last_state == "failed":
            status = "failing"
        else:
            status = "active"
        return DeploymentStatus(
            **deployment.model_dump(),
            status=status,
            dag_present=dag.present,
            is_paused=dag.is_paused,
            import_error=dag.import_error,
            last_runs=[DagRunSummary(**r) for r in dag.runs],
            next_run=dag.next_run,
            history=[
                DeploymentEvent(action=e.action, version=e.version, username=e.username, at=_utc(e.at))
                for e in events
            ],
        )


def _utc(value: datetime) -> datetime:
    result = db.as_utc(value)
    assert result is not None
    return result
