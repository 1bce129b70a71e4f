"""``/api/v1/analytics/saved-queries``: save SQL with typed parameters, run it again, export it
on a schedule."""

from __future__ import annotations

from flask import Response

from airflow_platform import config
from airflow_platform.api import analytics
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.auth.principal import Principal
from airflow_platform.schemas.analytics import ExecuteFormatQuery, QueryResult
from airflow_platform.schemas.saved_queries import (
    SavedQuery,
    SavedQueryCreate,
    SavedQueryExecute,
    SavedQueryList,
    SavedQueryListQuery,
    SavedQueryUpdate,
)
from airflow_platform.services.saved_queries import SavedQueryService

blueprint = PlatformBlueprint("saved_queries", __name__)
RESOURCE = "Saved Queries"
BASE = "/api/v1/analytics/saved-queries"
TAGS = ["analytics"]
FEATURE = "analytics"  # a tenant with "analytics": false gets 403 here, as on every analytics call


def _service() -> SavedQueryService:
    return SavedQueryService(analytics.service(), allowed_paths=config.export_allowed_paths)


@blueprint.operation(BASE, "POST", summary="Save a query", body=SavedQueryCreate, response=SavedQuery,
                     status=201, resource=RESOURCE, feature=FEATURE, tags=TAGS,
                     errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def create_saved_query(principal: Principal, body: SavedQueryCreate) -> SavedQuery:
    """Checked now: the SQL against its database's read-only guard (and your tenant's schemas), every
    ``:name`` declared and used, defaults of their types, the schedule, the destination. With a
    ``schedule`` the query becomes DAG ``saved_query__<id>``, which writes ``output_format`` to
    ``destination`` once per run (``<name-slug>_<YYYY-MM-DD>.<format>``)."""
    return _service().create(principal, body)


@blueprint.operation(BASE, "GET", summary="List saved queries", query=SavedQueryListQuery,
                     response=SavedQueryList, resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def list_saved_queries(principal: Principal, query: SavedQueryListQuery) -> SavedQueryList:
    """Your tenant's saved queries by name; ``tags`` (all of them) and ``search`` (name,
    description) filter."""
    items, total = _service().list(principal, query.limit, query.offset, query.tags, query.search)
    return SavedQueryList(saved_queries=items, total_entries=total)


@blueprint.operation(f"{BASE}/<saved_query_id>", "GET", summary="Get a saved query", response=SavedQuery,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def get_saved_query(principal: Principal, saved_query_id: str) -> SavedQuery:
    return _service().get(principal, saved_query_id)


@blueprint.operation(f"{BASE}/<saved_query_id>", "PATCH", summary="Update a saved query",
                     body=SavedQueryUpdate, response=SavedQuery, resource=RESOURCE, feature=FEATURE,
                     tags=TAGS, errors=(400, 401, 403, 404, 409, 429, 500))  # fmt: skip
def update_saved_query(principal: Principal, saved_query_id: str, body: SavedQueryUpdate) -> SavedQuery:
    """Fields left out stay; the result is checked as a whole again. A changed schedule, SQL,
    parameters or destination rewrites the export DAG's spec; ``"schedule": null`` removes the DAG."""
    return _service().update(principal, saved_query_id, body)


@blueprint.operation(f"{BASE}/<saved_query_id>", "DELETE", summary="Delete a saved query", status=204,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def delete_saved_query(principal: Principal, saved_query_id: str) -> None:
    """Its export DAG goes too (at the next parse); files already exported stay."""
    _service().delete(principal, saved_query_id)


@blueprint.operation(f"{BASE}/<saved_query_id>/execute", "POST", summary="Execute a saved query",
                     body=SavedQueryExecute, query=ExecuteFormatQuery, response=QueryResult,
                     resource=RESOURCE, feature=FEATURE, tags=TAGS)  # fmt: skip
def execute_saved_query(
    principal: Principal, saved_query_id: str, body: SavedQueryExecute, query: ExecuteFormatQuery
) -> Response:
    """``parameters`` override the defaults, typed as declared; a required one without a default
    must be given, an undeclared one is refused. Answers like ``POST /api/v1/analytics/query``:
    200 with the rows (JSON, or CSV/Arrow/Parquet by ``format=`` or ``Accept``), or 202 with the
    ``query_id`` while it runs."""
    fmt = analytics._format(query.format)
    return analytics._answer(_service().execute(principal, saved_query_id, body), fmt)
