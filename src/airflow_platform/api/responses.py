"""Serialization of view results."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from pydantic import BaseModel


def json_response(payload: Any, status: int = 200) -> Response:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json(by_alias=True).encode()
    else:
        body = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status=status, mimetype="application/json")
