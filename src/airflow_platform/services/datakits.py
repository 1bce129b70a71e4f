"""The DataKit registry: kits and their immutable versions, owned by tenants.

A kit's name is its id across the registry (like an image repository), so a deployment's DAG id
is unique too. Kits registered by a platform admin acting for no tenant are shared: every tenant
sees and may deploy them; only platform admins change them.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from pydantic import TypeAdapter

from airflow_platform.auth.principal import Principal
from airflow_platform.datakits import files
from airflow_platform.exceptions import (
    ConflictError,
    PermissionDeniedError,
    ResourceNotFoundError,
    ValidationError,
)
from airflow_platform.schemas.datakits import (
    DataKit,
    DataKitManifest,
    DataKitVersionInfo,
    parse_quantity,
)
from airflow_platform.storage import db
from airflow_platform.storage.tables import datakit_versions, datakits, deployments


def digest(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _version_key(version: str) -> tuple[Any, ...]:
    """Sort key of semantic versions: numbers numerically, a pre-release before its release."""
    core, _, pre = version.split("+")[0].partition("-")
    numbers = tuple(int(p) for p in core.split("."))
    if not pre:
        return (numbers, 1, ())
    return (numbers, 0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))


def latest(versions: list[str]) -> str:
    """The version a deployment gets by default: the highest release, pre-releases only if none."""
    releases = [v for v in versions if "-" not in v.split("+")[0]]
    return max(releases or versions, key=_version_key)


def check_tenant_limits(requirements: dict[str, Any], limits: dict[str, str], tenant_id: str) -> None:
    """A kit may not ask for more than its tenant's ``resource_limits`` allow."""
    problems = []
    for key in ("cpu", "memory"):
        wanted, limit = requirements.get(key), limits.get(key)
        if wanted and limit and parse_quantity(wanted) > parse_quantity(limit):
            problems.append(f"requirements.{key} {wanted} exceeds the limit {limit}")
    gpu_limit = limits.get("gpu")
    if requirements.get("gpu") and gpu_limit is not None and parse_quantity(gpu_limit) < 1:
        problems.append(f"requirements.gpu is true but the GPU limit is {gpu_limit}")
    if problems:
        raise ValidationError(
            f"Tenant {tenant_id!r} resource limits: {'; '.join(problems)}.",
            details={"tenant_id": tenant_id, "resource_limits": limits, "requirements": requirements},
        )


#: A listed kit: its registry facts and its latest version's manifest as JSON text (decoded with
#: orjson, several times faster than the driver's json module).
_PAGE = sa.select(
    datakits.c.name, datakits.c.latest_version, datakits.c.tenant_id, datakits.c.created_by,
    datakits.c.created_at, datakits.c.updated_at,
    sa.cast(datakit_versions.c.manifest, sa.Text).label("manifest"),
).select_from(
    datakits.join(
        datakit_versions,
        sa.and_(
            datakit_versions.c.name == datakits.c.name,
            datakit_versions.c.version == datakits.c.latest_version,
        ),
    )
)  # fmt: skip


_LISTED = TypeAdapter(list[DataKit])
#: Listed kits by everything their row holds (the manifest text included): a catalogue page asked
#: for again builds no model it built before, which was a quarter of the listing's CPU time. The
#: models are shared between requests, so callers only serialize them. Bounded: cleared when full.
_LISTED_CACHE: dict[tuple[Any, ...], DataKit] = {}
_LISTED_CACHE_MAX = 10_000


def _kit_fields(kit: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """A kit's wire fields from its registry row and a version's manifest (the get and the list)."""
    return {
        "id": kit.name,
        "name": kit.name,
        "version": manifest["version"],
        "latest_version": kit.latest_version,
        "description": manifest["description"],
        "image": manifest["image"],
        "type": manifest["type"],
        "inputs": manifest["inputs"],
        "outputs": manifest["outputs"],
        "configuration": manifest["configuration"],
        "requirements": manifest["requirements"],
        "tags": manifest["tags"],
        "tenant_id": kit.tenant_id,
        "created_by": kit.created_by,
        "created_at": db.as_utc(kit.created_at),
        "updated_at": db.as_utc(kit.updated_at),
    }


@contextmanager
def _autocommit_reading() -> Iterator[sa.engine.Connection]:
    """A read of one consistent statement needs no transaction: in autocommit mode PostgreSQL is
    spared the BEGIN and the ROLLBACK on return to the pool, two of a list's round trips. (The
    pool resets the isolation level on return; psycopg2 and sqlite3 switch it client-side.)"""
    with db.reading() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


class DataKitService:
    def __init__(
        self,
        tenant_limits: Callable[[str], dict[str, str]],
        folder: str | None = None,
    ) -> None:
        #: tenant id → its ``resource_limits`` (injected: the registry needs no tenant internals).
        self.tenant_limits = tenant_limits
        self.folder = folder

    # --- visibility ------------------------------------------------------------------------------

    @staticmethod
    def _visible(principal: Principal) -> Any:
        if principal.tenant_id is None:
            return sa.true()
        return sa.or_(datakits.c.tenant_id == principal.tenant_id, datakits.c.tenant_id.is_(None))

    def _row(self, principal: Principal, name: str, conn: sa.engine.Connection | None = None) -> Any:
        if conn is None:
            with db.reading() as conn:
                return self._row(principal, name, conn)
        row = conn.execute(
            sa.select(datakits).where(datakits.c.name == name, self._visible(principal))
        ).first()
        if row is None:
            raise ResourceNotFoundError(f"DataKit {name!r} not found.", details={"datakit_id": name})
        return row

    @staticmethod
    def _may_change(principal: Principal, row: Any) -> None:
        if row.tenant_id is None and not principal.is_platform_admin:
            raise PermissionDeniedError(f"DataKit {row.name!r} is shared; only platform admins change it.")
        if principal.tenant_id is not None and row.tenant_id != principal.tenant_id:
            raise PermissionDeniedError(f"DataKit {row.name!r} belongs to another tenant.")

    def check_limits(self, principal: Principal, requirements: dict[str, Any], tenant_id: str | None) -> None:
        if tenant_id is not None:
            check_tenant_limits(requirements, self.tenant_limits(tenant_id), tenant_id)

    # --- register --------------------------------------------------------------------------------

    def register(self, principal: Principal, body: DataKitManifest) -> tuple[DataKit, bool]:
        """Register a version; answers the kit and whether this call created the version."""
        try:
            return self._register(principal, body)
        except sa.exc.IntegrityError:
            # Two registrations raced: the loser sees the winner's row and answers like a repeat.
            return self._register(principal, body)

    def _register(self, principal: Principal, body: DataKitManifest) -> tuple[DataKit, bool]:
        manifest = body.canonical()
        sha = digest(manifest)
        tenant = principal.tenant_id
        self.check_limits(principal, manifest["requirements"], tenant)
        now = db.utcnow()
        with db.transaction() as conn:
            kit = conn.execute(sa.select(datakits).where(datakits.c.name == body.name)).first()
            if kit is not None and kit.tenant_id != tenant:
                raise ConflictError(
                    f"The name {body.name!r} is taken by another tenant's DataKit; pick another name.",
                    details={"datakit_id": body.name},
                )
            existing = conn.execute(
                sa.select(datakit_versions.c.digest).where(
                    datakit_versions.c.name == body.name, datakit_versions.c.version == body.version
                )
            ).scalar()
            if existing is not None:
                if existing != sha:
                    raise ConflictError(
                        f"{body.name} {body.version} is already registered with different content; "
                        "registered versions never change: register a new version.",
                        details={"datakit_id": body.name, "version": body.version},
                    )
                created = False
            else:
                conn.execute(
                    datakit_versions.insert().values(
                        name=body.name, version=body.version, manifest=manifest, digest=sha,
                        created_by=principal.username, created_at=now,
                    )
                )  # fmt: skip
                created = True
                if kit is None:
                    conn.execute(
                        datakits.insert().values(
                            name=body.name, tenant_id=tenant, type=body.type, description=body.description,
                            tags=manifest["tags"], latest_version=body.version,
                            created_by=principal.username, created_at=now, updated_at=now,
                        )
                    )  # fmt: skip
                else:
                    newest = latest([r.version for r in self._versions(conn, body.name)])
                    values: dict[str, Any] = {"latest_version": newest, "updated_at": now}
                    if newest == body.version:  # the kit shows its latest version's description and tags
                        values.update(type=body.type, description=body.description, tags=manifest["tags"])
                    conn.execute(datakits.update().where(datakits.c.name == body.name).values(**values))
                # The file is written inside the transaction: if it fails, nothing is registered.
                files.write_manifest(manifest, self.folder)
        return self.get(principal, body.name, body.version), created

    # --- read ------------------------------------------------------------------------------------

    def _versions(self, conn: sa.engine.Connection, name: str) -> list[Any]:
        rows = conn.execute(
            sa.select(
                datakit_versions.c.version, datakit_versions.c.manifest, datakit_versions.c.digest,
                datakit_versions.c.created_by, datakit_versions.c.created_at,
            ).where(datakit_versions.c.name == name)
        ).all()  # fmt: skip
        return sorted(rows, key=lambda r: _version_key(r.version), reverse=True)

    def _deployed_versions(self, conn: sa.engine.Connection, name: str) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        for row in conn.execute(
            sa.select(deployments.c.deployment_id, deployments.c.version).where(deployments.c.datakit == name)
        ):
            used.setdefault(row.version, []).append(row.deployment_id)
        return used

    def _to_model(self, kit: Any, manifest: dict[str, Any], versions: list[DataKitVersionInfo]) -> DataKit:
        return DataKit(**_kit_fields(kit, manifest), versions=versions)

    def get(self, principal: Principal, name: str, version: str | None = None) -> DataKit:
        with _autocommit_reading() as conn:  # one connection, not one per read (each costs a pre-ping)
            kit = self._row(principal, name, conn)
            rows = self._versions(conn, name)
            used = self._deployed_versions(conn, name)
        infos = [
            DataKitVersionInfo(
                version=r.version, image=r.manifest["image"], digest=r.digest, created_by=r.created_by,
                created_at=db.as_utc(r.created_at), deployments=sorted(used.get(r.version, [])),
            )
            for r in rows
        ]  # fmt: skip
        wanted = version or kit.latest_version
        chosen = next((r for r in rows if r.version == wanted), None)
        if chosen is None:
            raise ResourceNotFoundError(
                f"DataKit {name!r} has no version {wanted!r}.",
                details={"datakit_id": name, "version": wanted},
            )
        return self._to_model(kit, chosen.manifest, infos)

    def manifest(self, principal: Principal, name: str, version: str | None = None) -> dict[str, Any]:
        kit = self._row(principal, name)
        wanted = version or kit.latest_version
        with db.reading() as conn:
            found = conn.execute(
                sa.select(datakit_versions.c.manifest).where(
                    datakit_versions.c.name == name, datakit_versions.c.version == wanted
                )
            ).scalar()
        if found is None:
            raise ResourceNotFoundError(
                f"DataKit {name!r} has no version {wanted!r}.",
                details={"datakit_id": name, "version": wanted},
            )
        result: dict[str, Any] = found
        return result

    def list(
        self,
        principal: Principal,
        limit: int,
        offset: int,
        type_: str | None = None,
        tags: list[str] | None = None,
        search: str | None = None,
    ) -> tuple[list[DataKit], int]:
        """One page of kits with their latest manifests, in one query where it can be.

        This is the registry's hottest read (a catalogue page polls it), so a page costs one SQL
        statement: kits joined to their latest version, paged in SQL, the total as a window
        count. Only a tag filter needs Python (JSON containment is not portable), and then the
        page's rows are fetched by name in a second statement.
        """
        where = [self._visible(principal)]
        if type_:
            where.append(datakits.c.type == type_)
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                sa.or_(
                    sa.func.lower(datakits.c.name).like(pattern, escape="\\"),
                    sa.func.lower(datakits.c.description).like(pattern, escape="\\"),
                )
            )
        with _autocommit_reading() as conn:
            if tags:
                # Tags are a JSON list; portable JSON containment differs per DB, and kits are few.
                wanted = set(tags)
                names = [
                    r.name
                    for r in conn.execute(
                        sa.select(datakits.c.name, datakits.c.tags).where(*where).order_by(datakits.c.name)
                    )
                    if wanted <= set(r.tags or [])
                ]
                total = len(names)
                chosen = names[offset : offset + limit]
                rows = (
                    conn.execute(_PAGE.where(datakits.c.name.in_(chosen)).order_by(datakits.c.name)).all()
                    if chosen
                    else []
                )
            else:
                rows = conn.execute(
                    _PAGE.add_columns(sa.func.count().over().label("total"))
                    .where(*where)
                    .order_by(datakits.c.name)
                    .limit(limit)
                    .offset(offset)
                ).all()
                if rows:
                    total = rows[0].total
                elif offset:  # past the end: the window count has no row to ride on
                    total = conn.execute(
                        sa.select(sa.func.count()).select_from(datakits).where(*where)
                    ).scalar_one()
                else:
                    total = 0
        return self._listed_models(rows), total

    def _listed_models(self, rows: Sequence[Any]) -> builtins.list[DataKit]:
        """The page's models: from the cache, the rest built in one validation call (pydantic-core
        builds 100 models faster than 100 constructor calls, or Python's ``model_construct``)."""
        keys = [
            (r.name, r.latest_version, r.tenant_id, r.created_by, r.created_at, r.updated_at, r.manifest)
            for r in rows
        ]
        found = {k: m for k in keys if (m := _LISTED_CACHE.get(k)) is not None}
        missing = [(k, r) for k, r in zip(keys, rows, strict=True) if k not in found]
        if missing:
            built = _LISTED.validate_python([_kit_fields(r, orjson.loads(r.manifest)) for _, r in missing])
            if len(_LISTED_CACHE) + len(built) > _LISTED_CACHE_MAX:
                _LISTED_CACHE.clear()
            for (k, _), model in zip(missing, built, strict=True):
                found[k] = _LISTED_CACHE[k] = model
        return [found[k] for k in keys]

    # --- delete ----------------------------------------------------------------------------------

    def delete_version(self, principal: Principal, name: str, version: str) -> None:
        kit = self._row(principal, name)
        self._may_change(principal, kit)
        with db.transaction() as conn:
            users = self._deployed_versions(conn, name).get(version)
            if users:
                raise ConflictError(
                    f"{name} {version} is used by {', '.join(sorted(users))}; "
                    "undeploy or roll those forward first.",
                    details={"deployments": sorted(users)},
                )
            removed = conn.execute(
                datakit_versions.delete().where(
                    datakit_versions.c.name == name, datakit_versions.c.version == version
                )
            ).rowcount
            if not removed:
                raise ResourceNotFoundError(
                    f"DataKit {name!r} has no version {version!r}.",
                    details={"datakit_id": name, "version": version},
                )
            remaining = self._versions(conn, name)
            if not remaining:
                conn.execute(datakits.delete().where(datakits.c.name == name))
            elif version == kit.latest_version:
                conn.execute(
                    datakits.update()
                    .where(datakits.c.name == name)
                    .values(latest_version=latest([r.version for r in remaining]), updated_at=db.utcnow())
                )
        files.delete_manifest(name, version, self.folder)
