"""The depth limit refuses a document before any resolver runs (no server or DB needed)."""

from __future__ import annotations

import pytest

from airflow_platform.graphql import schema as graphql_schema


def test_depth_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphql_schema, "MAX_DEPTH", 3)
    result = graphql_schema.build_schema().execute_sync("{ dags { edges { node { runs { totalCount } } } } }")
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message
    assert result.data is None


def test_the_reference_schema_names() -> None:
    sdl = str(graphql_schema.build_schema())
    for name in (
        "triggerDAG(",
        "pauseDAG(",
        "unpauseDAG(",
        "clearTask(",
        "createConnection(",
        "updateConnection(",
        "deleteConnection(",
        "dagRuns(",
        "taskInstance(",
        "metrics(",
        "type DAGConnection",
        "type DAGRunConnection",
        "logs(tryNumber: Int",
        "executionDate: DateTime!",
    ):
        assert name in sdl, name
