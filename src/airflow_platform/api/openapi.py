"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from airflow_platform.api.routing import Operation
from airflow_platform.schemas.common import ErrorEnvelope
from airflow_platform.version import __version__

_REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Invalid request (VALIDATION_ERROR)",
    401: "Missing or invalid credentials (AUTHENTICATION_FAILED)",
    403: "Not allowed (PERMISSION_DENIED)",
    404: "No such resource (RESOURCE_NOT_FOUND)",
    409: "Conflicts with an existing resource (CONFLICT)",
    429: "Rate limit exceeded (RATE_LIMIT_EXCEEDED)",
    500: "Server error (INTERNAL_ERROR)",
    503: "Temporarily unavailable (SERVICE_UNAVAILABLE)",
}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.get("description", ""),
                "schema": {k: v for k, v in prop.items() if k != "description"},
            }
        )
    return params


def build_document(operations: list[Operation], server_url: str = "/") -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorEnvelope]
    for op in operations:
        for model in (op.body, op.response):
            if model is not None and model not in models:
                models.append(model)
    inputs = {op.body for op in operations if op.body is not None}
    keyed: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, "validation" if m in inputs else "serialization") for m in models
    ]
    refs, defs = models_json_schema(keyed, ref_template=_REF)

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.view_name,
            "summary": op.summary,
            "description": op.description,
            "tags": op.tags,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in op.path_params
            ],
            "responses": {},
        }
        if op.query is not None:
            item["parameters"].extend(_query_parameters(op.query))
        if op.body is not None:
            schema = ref(op.body, "validation")
            content = {"application/json": {"schema": schema}}
            if op.yaml_body:
                content["application/yaml"] = {"schema": schema}
            # The server reads an absent body as `{}`: only a model with required fields needs one.
            required = bool(op.body.model_json_schema().get("required"))
            item["requestBody"] = {"required": required, "content": content}
        ok: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
        for code in (op.status, *op.also_status):
            item["responses"][str(code)] = ok
        for code in sorted({*op.errors, 503}):
            item["responses"][str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error"),
                "content": {"application/json": {"schema": ref(ErrorEnvelope, "serialization")}},
            }
        if op.query is not None:  # before the app sees it; the request line holds the query string
            item["responses"]["414"] = {
                "description": "Request line too long for the web server (Airflow 2's gunicorn: 4094 bytes)"
            }
        for code, text in op.extra_responses.items():  # not the envelope (e.g. RFC 6749 errors, redirects)
            item["responses"][str(code)] = {"description": text}
        paths.setdefault(op.openapi_path, {})[op.method.lower()] = item

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Airflow Platform API",
            "version": __version__,
            "description": (
                "Platform Admin, DataKit Registry and Analytics Query APIs served inside Airflow. "
                'Every error answers the envelope `{"error": {code, message, details, request_id, '
                "timestamp}}`; every response carries `X-Request-ID`."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
