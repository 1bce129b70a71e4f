"""Query parameters: from JSON to typed Python values the engines bind, and back.

A JSON value keeps the type JSON gives it (string, integer, number, boolean, null, list). A value
whose type JSON cannot spell comes as `{"type": "date", "value": "2024-01-01"}`. Saved queries
declare parameter types the same way, so `coerce` is the one place a declared type becomes a value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from airflow_platform.exceptions import ValidationError

__all__ = ["bind_values", "canonical", "coerce", "to_wire"]

_MAX_LIST = 10_000
_MAX_STRING = 100_000


def coerce(name: str, type_name: str, value: Any) -> Any:
    """`value` as a Python value of the declared type, or a 400 naming the parameter."""
    if value is None:
        return None
    try:
        return _COERCE[type_name](value)
    except KeyError:
        raise _bad(name, f"unknown type {type_name!r}") from None
    except (ValueError, TypeError, InvalidOperation, OverflowError) as e:
        raise _bad(name, f"{value!r} is not a valid {type_name} ({_reason(e)})") from None


def bind_values(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The request's parameters (plain JSON or typed objects) as values for the engine."""
    values: dict[str, Any] = {}
    for name, raw in parameters.items():
        if isinstance(raw, Mapping) or (hasattr(raw, "type") and hasattr(raw, "value")):
            type_name = raw["type"] if isinstance(raw, Mapping) else raw.type
            value = raw.get("value") if isinstance(raw, Mapping) else raw.value
            values[name] = coerce(name, str(type_name), value)
        elif isinstance(raw, list):
            if len(raw) > _MAX_LIST:
                raise _bad(name, f"a list may hold at most {_MAX_LIST} values")
            values[name] = [_plain(name, v) for v in raw]
        else:
            values[name] = _plain(name, raw)
    return values


def to_wire(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as the caller sent them (typed objects as dicts), for storage and answers."""
    out: dict[str, Any] = {}
    for name, raw in parameters.items():
        if hasattr(raw, "model_dump"):
            out[name] = raw.model_dump(mode="json")
        else:
            out[name] = raw
    return out


def canonical(values: Mapping[str, Any]) -> str:
    """A stable text of bound values with their types, for cache keys ('1' and 1 differ)."""
    items = sorted((name, type(v).__name__, _text(v)) for name, v in values.items())
    return hashlib.sha256(orjson.dumps(items)).hexdigest()


# -- helpers ---------------------------------------------------------------------------------


def _plain(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) > _MAX_STRING:
            raise _bad(name, f"a string may be at most {_MAX_STRING} characters")
        return value
    raise _bad(name, f"values are strings, numbers, booleans, null, lists or {{type, value}}, not {value!r}")


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return [[type(v).__name__, _text(v)] for v in value]
    if isinstance(value, (dt.date, dt.time, Decimal, uuid.UUID)):
        return str(value)
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("use true or false")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("has a fraction")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return float(value)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise TypeError('give decimals as strings, e.g. "12.50", so no digit is lost')
    return Decimal(str(value))


def _date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError("give dates as yyyy-mm-dd")
    return dt.date.fromisoformat(value)


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError("give timestamps as ISO 8601 text")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def _time(value: Any) -> dt.time:
    if not isinstance(value, str):
        raise TypeError("give times as hh:mm[:ss]")
    return dt.time.fromisoformat(value)


def _string(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError("not text")
    return str(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    if len(value) > _MAX_LIST:
        raise ValueError(f"at most {_MAX_LIST} values")
    return [_plain("list item", v) for v in value]


_COERCE: dict[str, Any] = {
    "string": _string,
    "integer": _int,
    "number": _float,
    "decimal": _decimal,
    "boolean": _bool,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
    "uuid": lambda v: uuid.UUID(str(v)),
    "list": _list,
}


def _bad(name: str, why: str) -> ValidationError:
    return ValidationError(f"Parameter :{name}: {why}", details={"reason": "parameter", "parameter": name})


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
