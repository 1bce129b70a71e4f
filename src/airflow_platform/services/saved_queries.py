"""Saved queries: SQL with declared, typed parameters that a tenant runs again and exports on a schedule.

A saved query is checked when it is saved, so mistakes show then and not at 8 a.m. on the first of
the month: its SQL passes the read-only guard for its database (and the tenant's schemas), every
``:name`` it uses is declared and every declared one is used, defaults fit their types, the
schedule is cron or a preset, and the destination is one exports may write to. Executing it types
the given values as declared, applies defaults, enforces required ones and refuses unknown ones,
then runs it like any analytics query (same engines, cache, history and limits).

A ``schedule`` makes DAG ``saved_query__<id>``: the metadata DB keeps the saved query (what the
API answers from); a spec file keeps what the DAG and its task need (``exports.specs``), written
in the same step, so parsing and the task never touch the DB. Removing the schedule, or deleting
the saved query, removes the spec (the DAG goes at the next parse; its runs stay in Airflow).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airflow_platform.analytics.parameters import coerce
from airflow_platform.auth.principal import Principal
from airflow_platform.exceptions import ConflictError, ResourceNotFoundError, ValidationError
from airflow_platform.exports import destinations, specs
from airflow_platform.schemas.saved_queries import (
    RUN_PARAMETER_TYPES,
    RUN_PARAMETERS,
    SavedQuery,
    SavedQueryCreate,
    SavedQueryExecute,
    SavedQueryParameter,
    SavedQueryUpdate,
    dag_id_for,
    slugify,
)
from airflow_platform.storage import db
from airflow_platform.storage.tables import saved_queries

if TYPE_CHECKING:
    from airflow_platform.services.analytics import AnalyticsService, Execution

__all__ = ["SavedQueryService", "execution_parameters"]

#: Types JSON has no literal for travel as ``{"type", "value"}``; the others as plain JSON values.
_TYPED_ON_THE_WIRE = frozenset({"date", "timestamp", "time", "decimal", "uuid"})
_EDITABLE = ("name", "description", "query", "database", "parameters", "tags", "schedule", "output_format",
             "destination")  # fmt: skip
_COLUMN_OF = {"query": "query_text"}


def new_id() -> str:
    return f"sq_{secrets.token_hex(8)}"


def _to_model(row: Any) -> SavedQuery:
    return SavedQuery(
        id=row.saved_query_id,
        name=row.name,
        description=row.description,
        query=row.query_text,
        database=row.database,
        parameters=[SavedQueryParameter(**p) for p in row.parameters or []],
        tags=list(row.tags or []),
        schedule=row.schedule,
        output_format=row.output_format,
        destination=row.destination,
        dag_id=dag_id_for(row.saved_query_id) if row.schedule else None,
        tenant_id=row.tenant_id,
        created_by=row.created_by,
        created_at=db.as_utc(row.created_at),
        updated_by=row.updated_by,
        updated_at=db.as_utc(row.updated_at),
    )


def _given_value(raw: Any) -> Any:
    """A given parameter's value: plain JSON, or the ``value`` of ``{"type", "value"}``."""
    if isinstance(raw, Mapping) and "type" in raw:
        return raw.get("value")
    if hasattr(raw, "type") and hasattr(raw, "value"):
        return raw.value
    return raw


def _wire(type_name: str, value: Any) -> Any:
    if value is None or type_name not in _TYPED_ON_THE_WIRE:
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return {"type": type_name, "value": text}


def execution_parameters(declared: list[dict[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """The values an execute call binds: given ones typed as declared, else the defaults; a 400
    for an unknown parameter, a value that does not fit its type, or a missing required one."""
    by_name = {p["name"]: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ValidationError(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(':' + u for u in unknown)}; "
            f"this saved query declares {', '.join(':' + n for n in by_name) or 'none'}",
            details={"reason": "parameter", "unknown": unknown, "declared": list(by_name)},
        )
    values: dict[str, Any] = {}
    missing = []
    for name, item in by_name.items():
        value = _given_value(given[name]) if name in given else item.get("default")
        if value is None:
            if item.get("required"):
                missing.append(name)
            values[name] = None
            continue
        type_name = str(item.get("type") or "string")
        values[name] = _wire(type_name, coerce(name, type_name, value))
    if missing:
        raise ValidationError(
            "Missing value for required parameter " + ", ".join(f":{m}" for m in missing),
            details={"reason": "parameter", "missing": missing},
        )
    return values


class SavedQueryService:
    def __init__(
        self,
        analytics: AnalyticsService,
        allowed_paths: Callable[[], list[str]],
        folder: str | None = None,
    ) -> None:
        self.analytics = analytics
        self.allowed_paths = allowed_paths
        #: The platform folder the export specs go under (default ``[platform] datakits_folder``).
        self.folder = folder

    # -- checks ---------------------------------------------------------------------------------

    def _check(self, principal: Principal, values: dict[str, Any], tenant_id: str | None) -> dict[str, Any]:
        """Everything a saved query must satisfy; returns what the export spec needs to know."""
        query, schemas = self.analytics.check(principal, values["query_text"], values["database"])
        declared = values["parameters"]
        names = [p["name"] for p in declared]
        undeclared = [p for p in query.parameters if p not in names]
        if undeclared:
            raise ValidationError(
                "The query uses " + ", ".join(f":{p}" for p in undeclared) + ", which parameters does not "
                'declare (add {"name", "type", "default", "required"} for each)',
                details={"reason": "parameter", "undeclared": undeclared},
            )
        unused = [n for n in names if n not in query.parameters]
        if unused:
            raise ValidationError(
                "parameters declares "
                + ", ".join(f":{n}" for n in unused)
                + ", which the query does not use",
                details={"reason": "parameter", "unused": unused},
            )
        for item in declared:
            if item.get("default") is not None:
                coerce(item["name"], item["type"], item["default"])  # a 400 naming the parameter
        destination = None
        if values["destination"] is not None:
            destination = destinations.parse(
                values["destination"], allowed_paths=self.allowed_paths(), tenant_id=tenant_id
            )
            values["destination"] = destination.uri
        if values["schedule"] is not None:
            if destination is None:
                raise ValidationError(
                    "A scheduled saved query needs a destination for its exports (e.g. s3://bucket/prefix/ "
                    "or a file:// folder under [platform] export_allowed_paths)",
                    details={"reason": "destination"},
                )
            values["output_format"] = values["output_format"] or "csv"
            for item in declared:
                run_given = item["name"] in RUN_PARAMETERS
                if run_given and item["type"] not in RUN_PARAMETER_TYPES:
                    raise ValidationError(
                        f"Parameter :{item['name']} gets the run's date in scheduled exports, so its type "
                        f"must be one of {', '.join(RUN_PARAMETER_TYPES)}",
                        details={"reason": "parameter", "parameter": item["name"]},
                    )
                if item.get("required") and item.get("default") is None and not run_given:
                    raise ValidationError(
                        "Scheduled exports run with the defaults: give the required parameter "
                        f":{item['name']} a default (or name it one of {', '.join(RUN_PARAMETERS)} to get "
                        "the run's date)",
                        details={"reason": "parameter", "parameter": item["name"]},
                    )
        return {"allowed_schemas": sorted(schemas) if schemas is not None else None}

    def _name_taken(
        self, conn: sa.engine.Connection, tenant_id: str | None, name_key: str, own_id: str
    ) -> None:
        owner = (
            saved_queries.c.tenant_id.is_(None)
            if tenant_id is None
            else saved_queries.c.tenant_id == tenant_id
        )
        other = conn.execute(
            sa.select(saved_queries.c.saved_query_id, saved_queries.c.name).where(
                owner, saved_queries.c.name_key == name_key, saved_queries.c.saved_query_id != own_id
            )
        ).first()
        if other is not None:
            raise ConflictError(
                f"A saved query named {other.name!r} exists already (names must differ in more than case and "
                "punctuation: exports are named after them).",
                details={"saved_query_id": other.saved_query_id, "name": other.name},
            )

    # -- spec files -----------------------------------------------------------------------------

    def _sync_spec(self, values: dict[str, Any], extra: dict[str, Any]) -> None:
        dag_id = dag_id_for(values["saved_query_id"])
        if values["schedule"] is None:
            specs.delete_spec(dag_id, self.folder)
            return
        specs.write_spec(
            {
                "dag_id": dag_id,
                "saved_query_id": values["saved_query_id"],
                "name": values["name"],
                "slug": values["name_key"],
                "query": values["query_text"],
                "database": values["database"],
                "allowed_schemas": extra["allowed_schemas"],
                "parameters": values["parameters"],
                "schedule": values["schedule"],
                "output_format": values["output_format"],
                "destination": values["destination"],
                "tenant_id": values["tenant_id"],
                "owner": values["created_by"],
                "updated_at": values["updated_at"].isoformat(),
            },
            self.folder,
        )

    # -- create, read, update, delete -----------------------------------------------------------

    def _visible(self, principal: Principal) -> Any:
        return sa.true() if principal.tenant_id is None else saved_queries.c.tenant_id == principal.tenant_id

    def _row(self, principal: Principal, saved_query_id: str) -> Any:
        with db.reading() as conn:
            row = conn.execute(
                sa.select(saved_queries).where(
                    saved_queries.c.saved_query_id == saved_query_id, self._visible(principal)
                )
            ).first()
        if row is None:
            raise ResourceNotFoundError(
                f"Saved query {saved_query_id!r} not found.", details={"saved_query_id": saved_query_id}
            )
        return row

    def create(self, principal: Principal, body: SavedQueryCreate) -> SavedQuery:
        now = db.utcnow()
        values: dict[str, Any] = {
            "saved_query_id": new_id(),
            "tenant_id": principal.tenant_id,
            "name": body.name,
            "name_key": slugify(body.name),
            "description": body.description,
            "query_text": body.query,
            "database": body.database,
            "parameters": [p.model_dump() for p in body.parameters],
            "tags": body.tags,
            "schedule": body.schedule,
            "output_format": body.output_format,
            "destination": body.destination,
            "created_by": principal.username,
            "created_at": now,
            "updated_by": principal.username,
            "updated_at": now,
        }
        extra = self._check(principal, values, principal.tenant_id)
        with db.transaction() as conn:
            self._name_taken(conn, principal.tenant_id, values["name_key"], values["saved_query_id"])
            conn.execute(saved_queries.insert().values(**values))
            self._sync_spec(values, extra)
        return _to_model(db.RowView(values))

    def get(self, principal: Principal, saved_query_id: str) -> SavedQuery:
        return _to_model(self._row(principal, saved_query_id))

    def list(
        self,
        principal: Principal,
        limit: int,
        offset: int,
        tags: list[str] | None = None,
        search: str | None = None,
    ) -> tuple[list[SavedQuery], int]:
        where = [self._visible(principal)]
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                sa.or_(
                    sa.func.lower(saved_queries.c.name).like(pattern, escape="\\"),
                    sa.func.lower(saved_queries.c.description).like(pattern, escape="\\"),
                )
            )
        with db.reading() as conn:
            rows = conn.execute(
                sa.select(saved_queries)
                .where(*where)
                .order_by(saved_queries.c.name_key, saved_queries.c.saved_query_id)
            ).all()
        if tags:
            # Tags are a JSON list; portable JSON containment differs per DB, and a tenant's saved
            # queries are few.
            wanted = set(tags)
            rows = [r for r in rows if wanted <= set(r.tags or [])]
        return [_to_model(r) for r in rows[offset : offset + limit]], len(rows)

    def update(self, principal: Principal, saved_query_id: str, body: SavedQueryUpdate) -> SavedQuery:
        row = self._row(principal, saved_query_id)
        values: dict[str, Any] = dict(row._mapping)
        for field in _EDITABLE:
            if field in body.model_fields_set:
                value = getattr(body, field)
                if field == "parameters":
                    value = [p.model_dump() for p in value]
                values[_COLUMN_OF.get(field, field)] = value
        values["name_key"] = slugify(values["name"])
        values["updated_by"] = principal.username
        values["updated_at"] = db.utcnow()
        # Checked as the owning tenant (schemas, connections, export folder), also when a platform
        # admin acting across tenants edits it: the export keeps that tenant's walls.
        owner = (
            principal if principal.tenant_id == row.tenant_id else replace(principal, tenant_id=row.tenant_id)
        )
        extra = self._check(owner, values, row.tenant_id)
        with db.transaction() as conn:
            self._name_taken(conn, row.tenant_id, values["name_key"], saved_query_id)
            changed = {k: v for k, v in values.items() if k != "saved_query_id"}
            conn.execute(
                saved_queries.update()
                .where(saved_queries.c.saved_query_id == saved_query_id)
                .values(**changed)
            )
            self._sync_spec(values, extra)
        return _to_model(db.RowView(values))

    def delete(self, principal: Principal, saved_query_id: str) -> None:
        self._row(principal, saved_query_id)
        with db.transaction() as conn:
            conn.execute(saved_queries.delete().where(saved_queries.c.saved_query_id == saved_query_id))
            specs.delete_spec(dag_id_for(saved_query_id), self.folder)

    # -- execute --------------------------------------------------------------------------------

    def execute(self, principal: Principal, saved_query_id: str, body: SavedQueryExecute) -> Execution:
        row = self._row(principal, saved_query_id)
        parameters = execution_parameters(list(row.parameters or []), body.parameters)
        return self.analytics.run_query(
            principal,
            row.query_text,
            parameters,
            database=row.database,
            limit=body.limit,
            timeout_s=body.timeout_seconds,
            run_async=body.run_async,
        )
