"""``GET /api/v1/platform/health``: open to everyone, for load balancers and people alike."""

from __future__ import annotations

from airflow_platform import exceptions as exc
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.schemas.common import HealthResponse
from airflow_platform.services.health import HealthService

blueprint = PlatformBlueprint("health", __name__)


def _service() -> HealthService:
    from airflow_platform import compat, config
    from airflow_platform.analytics import warehouse

    return HealthService(
        engine=compat.metadata_engine,
        airflow_version=compat.airflow_version(),
        warehouse_probe=lambda: warehouse.probe(config.warehouse_path()),
    )


@blueprint.operation(
    f"{API_PREFIX}/health",
    "GET",
    summary="Platform health",
    response=HealthResponse,
    needs_schema=False,
    public=True,
    tags=["health"],
)
def get_health() -> HealthResponse:
    """Versions and the state of the metadata DB and of the warehouse.

    Answers 200 while the platform can serve (``healthy`` or ``degraded``) and 503 in the error
    envelope, with the same document in ``details``, when the metadata DB is unreachable.
    """
    health = _service().check()
    if health.status == "unhealthy":
        raise exc.ServiceUnavailableError(
            "The metadata database is unreachable.", details=health.model_dump(mode="json")
        )
    return health
