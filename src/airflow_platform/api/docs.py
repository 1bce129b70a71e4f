"""``openapi.json`` for machines and ``docs`` for people, both built from the operations."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from flask import Response, render_template

from airflow_platform import exceptions as exc
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.responses import json_response
from airflow_platform.api.routing import PlatformBlueprint

blueprint = PlatformBlueprint("docs", __name__, template_folder="templates")


@cache
def _document() -> dict[str, Any]:
    from airflow_platform.api.blueprint import platform_operations
    from airflow_platform.api.openapi import build_document

    return build_document(platform_operations())


@blueprint.operation(
    f"{API_PREFIX}/openapi.json",
    "GET",
    summary="The OpenAPI 3.1 document",
    needs_schema=False,
    public=True,
    tags=["docs"],
)
def get_openapi() -> Response:
    """Generated from the pydantic models of every operation; never written by hand."""
    return json_response(_document())


@blueprint.operation(
    f"{API_PREFIX}/docs",
    "GET",
    summary="The API reference for people",
    needs_schema=False,
    public=True,
    tags=["docs"],
)
def get_docs() -> Response:
    """An HTML page rendered from the OpenAPI document: no JavaScript, no CDN."""
    from airflow_platform import config

    if not config.get_bool("enable_docs"):
        raise exc.ResourceNotFoundError("The API reference page is turned off ([platform] enable_docs).")
    doc = _document()
    html = render_template("platform_docs.html", doc=doc, dumps=lambda v: json.dumps(v, indent=2))
    return Response(html, mimetype="text/html")
