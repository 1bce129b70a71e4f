"""Query parameters: JSON values keep their type, typed objects get theirs, bad ones are 400s."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from airflow_platform.analytics.parameters import bind_values, canonical, coerce, to_wire
from airflow_platform.exceptions import ValidationError
from airflow_platform.schemas.analytics import QueryRequest, TypedParameter


def test_plain_json_values_keep_their_type() -> None:
    values = bind_values({"s": "2024-01-01", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, "a", None]})
    assert values == {"s": "2024-01-01", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, "a", None]}
    assert type(values["s"]) is str and type(values["i"]) is int


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        ("date", "2024-01-31", dt.date(2024, 1, 31)),
        ("timestamp", "2024-01-31T10:00:00Z", dt.datetime(2024, 1, 31, 10, tzinfo=dt.timezone.utc)),
        ("timestamp", "2024-01-31 10:00:00", dt.datetime(2024, 1, 31, 10)),
        ("time", "08:30", dt.time(8, 30)),
        ("decimal", "12.50", Decimal("12.50")),
        ("integer", "42", 42),
        ("integer", 7.0, 7),
        ("number", "2.5", 2.5),
        ("boolean", "false", False),
        ("string", 5, "5"),
        ("uuid", "12345678-1234-5678-1234-567812345678", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ("list", [1, 2], [1, 2]),
        ("date", None, None),
    ],
)
def test_typed_values(type_name: str, raw: object, expected: object) -> None:
    assert coerce("p", type_name, raw) == expected
    body = QueryRequest.model_validate(
        {"query": "SELECT 1", "parameters": {"p": {"type": type_name, "value": raw}}}
    )
    assert isinstance(body.parameters["p"], TypedParameter)
    assert bind_values(body.parameters) == {"p": expected}


@pytest.mark.parametrize(
    ("type_name", "raw"),
    [
        ("date", "31/01/2024"),
        ("date", 20240131),
        ("integer", "4.5"),
        ("integer", True),
        ("decimal", 1.1),
        ("boolean", "maybe"),
        ("uuid", "nope"),
        ("list", "a,b"),
        ("timestamp", "yesterday"),
    ],
)
def test_bad_typed_values_are_400_naming_the_parameter(type_name: str, raw: object) -> None:
    with pytest.raises(ValidationError) as info:
        coerce("start_date", type_name, raw)
    assert info.value.details == {"reason": "parameter", "parameter": "start_date"}
    assert ":start_date" in info.value.message


def test_request_body_refuses_objects_and_odd_names() -> None:
    with pytest.raises(Exception, match="parameters"):
        QueryRequest.model_validate({"query": "SELECT 1", "parameters": {"p": {"nested": 1}}})
    with pytest.raises(Exception, match="parameter name"):
        QueryRequest.model_validate({"query": "SELECT 1", "parameters": {"1x": 1}})
    with pytest.raises(Exception, match="parameter name"):
        QueryRequest.model_validate({"query": "SELECT 1", "parameters": {"a-b": 1}})
    assert QueryRequest.model_validate({"query": "SELECT 1", "async": True}).run_async is True


def test_cache_key_text_tells_types_apart() -> None:
    assert canonical({"a": 1}) != canonical({"a": "1"})
    assert canonical({"a": dt.date(2024, 1, 1)}) != canonical({"a": "2024-01-01"})
    assert canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})


def test_wire_form_keeps_what_the_caller_sent() -> None:
    body = QueryRequest.model_validate(
        {"query": "SELECT 1", "parameters": {"d": {"type": "date", "value": "2024-01-01"}, "n": 3}}
    )
    assert to_wire(body.parameters) == {"d": {"type": "date", "value": "2024-01-01"}, "n": 3}
