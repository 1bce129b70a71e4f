"""``GET /api/v1/platform/health``: open to everyone, for load balancers and people alike."""

from __future__ import annotations

from airflow_platform import exceptions as exc
from airflow_platform.api.paths import API_PREFIX
from airflow_platform.api.routing import PlatformBlueprint
from airflow_platform.schemas.common import HealthResponse, RateLimitHealth
from airflow_platform.services.health import HealthService

blueprint = PlatformBlueprint("health", __name__)


def _rate_limit_health() -> RateLimitHealth:
    """The limiter's own passive state: polling health must not load (or wait on) Redis."""
    from airflow_platform.auth.rate_limit import get_limiter

    try:
        limiter = get_limiter()
    except ValueError as e:  # a bad setting: every limited request fails the same way
        return RateLimitHealth(status="degraded", detail=str(e)[:300])
    if limiter is None:
        return RateLimitHealth(status="disabled")
    state = limiter.state()
    status = "degraded" if state.get("status") == "degraded" else "healthy"
    return RateLimitHealth(status=status, storage=state.get("storage"), detail=state.get("detail"))


def _service() -> HealthService:
    from airflow_platform import compat, config
    from airflow_platform.analytics import warehouse

    return HealthService(
        engine=compat.metadata_engine,
        airflow_version=compat.airflow_version(),
        warehouse_probe=lambda: warehouse.probe(config.warehouse_path()),
        rate_limit_probe=_rate_limit_health,
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
    """Versions and the state of the metadata DB, the warehouse and the rate-limit storage.

    Answers 200 while the platform can serve (``healthy`` or ``degraded``) and 503 in the error
    envelope, with the same document in ``details``, when the metadata DB is unreachable.
    """
    health = _service().check()
    if health.status == "unhealthy":
        raise exc.ServiceUnavailableError(
            "The metadata database is unreachable.", details=health.model_dump(mode="json")
        )
    return health
