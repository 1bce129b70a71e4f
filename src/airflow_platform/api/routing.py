"""Declarative operations: one decorator says what a view takes and returns.

The decorator does the translating (parse the body and query with pydantic, call the view, dump
its model) so views stay one call to a service; and it records each operation, which is what
the OpenAPI document is generated from.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Response, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from airflow_platform import exceptions as exc
from airflow_platform.api.errors import validation_error
from airflow_platform.api.guard import guard
from airflow_platform.api.responses import json_response

_RULE_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass
class Operation:
    """One method on one path, as the OpenAPI document describes it."""

    rule: str
    method: str
    view_name: str
    summary: str
    description: str
    tags: list[str]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    needs_schema: bool = True
    #: The authorization resource (``auth.permissions``); None for public operations.
    resource: str | None = None
    #: A tenant feature (``features`` of the tenant) this operation needs; ``False`` there → 403.
    feature: str | None = None
    errors: tuple[int, ...] = (400, 401, 403, 404, 429, 500)
    #: The body may also come as YAML (``Content-Type: application/yaml``).
    yaml_body: bool = False
    extra_responses: dict[int, str] = field(default_factory=dict)
    #: Other success statuses answering the same model (e.g. 200 when a create updates instead).
    also_status: tuple[int, ...] = ()

    @property
    def openapi_path(self) -> str:
        return _RULE_PARAM.sub(r"{\1}", self.rule)

    @property
    def path_params(self) -> list[str]:
        return _RULE_PARAM.findall(self.rule)


def load_yaml(raw: bytes) -> Any:
    """YAML without aliases: an alias bomb expands a few KB into gigabytes (billion laughs)."""
    import yaml

    try:
        for event in yaml.parse(raw, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise exc.ValidationError("YAML aliases (*name) are not accepted in request bodies.")
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise exc.ValidationError(f"Malformed YAML body: {str(e).splitlines()[0]}") from None


def _is_yaml() -> bool:
    return "yaml" in (request.mimetype or "")


def _parse_json_body(model: type[BaseModel], allow_yaml: bool = False) -> BaseModel:
    raw = request.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    elif allow_yaml and _is_yaml():
        data = load_yaml(raw)
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise exc.ValidationError(
                f"Malformed JSON body: {e.msg} at line {e.lineno} column {e.colno}",
                details={"position": e.pos},
            ) from None
    if not isinstance(data, dict):
        raise exc.ValidationError("The request body must be a JSON object.")
    try:
        if not raw.strip() or (allow_yaml and _is_yaml()):
            return model.model_validate(data)
        # JSON bodies are validated strictly: `0` is not `false` and `"5"` is not `5` (the document
        # says boolean and integer); JSON's own strings still become dates, enums and the like.
        return model.model_validate_json(raw, strict=True)
    except PydanticValidationError as e:
        raise validation_error(e, "request body") from None


def _parse_query(model: type[BaseModel]) -> BaseModel:
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        annotation = model.model_fields.get(key)
        is_list = annotation is not None and "list" in str(annotation.annotation)
        if is_list:
            data[key] = [v for value in values for v in value.split(",") if v]
        else:
            data[key] = values[-1]
    try:
        return model.model_validate(data)
    except PydanticValidationError as e:
        raise validation_error(e, "query parameters") from None


class PlatformBlueprint(Blueprint):
    """A Blueprint whose routes are declared operations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations: list[Operation] = []
        self.after_request(self._allow_declared_methods)

    def _allow_declared_methods(self, response: Response) -> Response:
        """Flask's automatic OPTIONS answer lists the methods of every rule matching the path, and
        the catch-all "unknown route" rules take every method, so ``Allow`` advertised methods that
        answer 405; it lists the declared operations of the path instead (found by fuzzing)."""
        rule = request.url_rule
        if request.method == "OPTIONS" and rule is not None and "Allow" in response.headers:
            methods = {op.method for op in self.operations if op.rule == rule.rule}
            if methods:
                if "GET" in methods:
                    methods.add("HEAD")
                response.headers["Allow"] = ", ".join(sorted(methods | {"OPTIONS"}))
        return response

    def operation(
        self,
        rule: str,
        method: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        needs_schema: bool = True,
        resource: str | None = None,
        feature: str | None = None,
        public: bool = False,
        tags: list[str] | None = None,
        errors: tuple[int, ...] | None = None,
        yaml_body: bool = False,
        extra_responses: dict[int, str] | None = None,
        also_status: tuple[int, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if resource is None and not public:
            raise ValueError(f"{rule}: an operation needs a resource unless it is public")

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            wants_principal = "principal" in inspect.signature(view).parameters
            op = Operation(
                rule=rule,
                method=method.upper(),
                view_name=view.__name__,
                summary=summary,
                description=(view.__doc__ or "").strip(),
                tags=tags or [self.name],
                body=body,
                query=query,
                response=response,
                status=status,
                needs_schema=needs_schema,
                resource=resource,
                feature=feature,
                yaml_body=yaml_body,
                also_status=also_status,
            )
            if extra_responses:
                op.extra_responses = dict(extra_responses)
            if errors is not None:
                op.errors = errors
            elif public:
                op.errors = (400, 401, 429, 500)
            self.operations.append(op)

            @functools.wraps(view)
            def wrapper(**path_args: Any) -> Response:
                if op.needs_schema:
                    from airflow_platform.services.schema_guard import ensure_schema_current

                    ensure_schema_current()
                principal = guard(op)
                kwargs: dict[str, Any] = dict(path_args)
                if wants_principal:
                    kwargs["principal"] = principal
                if body is not None:
                    kwargs["body"] = _parse_json_body(body, allow_yaml=yaml_body)
                if query is not None:
                    kwargs["query"] = _parse_query(query)
                result = view(**kwargs)
                if isinstance(result, Response):
                    return result
                if result is None:
                    return Response(status=204 if status == 200 else status)
                return json_response(result, status=status)

            self.add_url_rule(rule, view.__name__, wrapper, methods=[op.method])
            return wrapper

        return decorate
