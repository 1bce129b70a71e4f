"""``/graphql``: the GraphQL API (``airflow_platform.graphql``), beside the REST areas.

Not a declared operation: the OpenAPI document describes REST only, and GraphQL checks each field.
"""

from __future__ import annotations

from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.graphql.view import GRAPHQL_PATH, graphql_endpoint

blueprint = PlatformBlueprint("graphql", __name__)
blueprint.add_url_rule(GRAPHQL_PATH, "graphql", graphql_endpoint, methods=["GET", "POST"])

#: Paths this area serves without declared operations (``api.blueprint`` leaves them to it).
ROUTES = frozenset({GRAPHQL_PATH})
