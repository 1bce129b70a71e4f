"""The ``[platform]`` section of ``airflow.cfg``.

``OPTIONS`` is plain data so that ``get_provider_info()`` can declare it without importing Airflow;
the getters read Airflow's configuration lazily, at call time, never at import time.
"""

from __future__ import annotations

import os
from typing import Any

SECTION = "platform"

OPTIONS: dict[str, dict[str, Any]] = {
    "warehouse_path": {
        "description": (
            "Path of the embedded DuckDB warehouse file (schemas bronze, silver, gold). Empty means "
            "``{AIRFLOW_HOME}/platform/warehouse.duckdb``. At scale, point queries at a warehouse "
            "connection (PostgreSQL, Trino, Snowflake...) instead.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "/data/warehouse.duckdb",
        "default": "",
    },
    "enable_docs": {
        "description": "Serve the human-readable API reference at ``/api/v1/platform/docs``.\n",
        "version_added": "0.1.0",
        "type": "boolean",
        "example": None,
        "default": "True",
    },
    "max_request_bytes": {
        "description": "Largest request body the platform API accepts, in bytes (413 above it).\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "10485760",
    },
    "rate_limit_enabled": {
        "description": (
            "Apply per-key rate limits to platform requests, and to Airflow API calls made with a "
            "platform key.\n"
        ),
        "version_added": "0.1.0",
        "type": "boolean",
        "example": None,
        "default": "True",
    },
    "rate_limit_storage_uri": {
        "description": (
            "Where rate-limit counters live, as a ``limits`` storage URI. ``memory://`` counts per process "
            "(one machine); use ``redis://host:6379/0`` so that every server process shares one budget. "
            "When Redis cannot be reached the platform keeps serving with per-process counters and says "
            "so in the health endpoint.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "redis://127.0.0.1:6379/0",
        "default": "memory://",
    },
    "rate_limit_get": {
        "description": "Limit of GET requests per key (``limits`` notation).\n",
        "version_added": "0.1.0",
        "type": "string",
        "example": None,
        "default": "1000/minute",
    },
    "rate_limit_write": {
        "description": "Limit of POST/PUT/PATCH requests per key.\n",
        "version_added": "0.1.0",
        "type": "string",
        "example": None,
        "default": "100/minute",
    },
    "rate_limit_delete": {
        "description": "Limit of DELETE requests per key.\n",
        "version_added": "0.1.0",
        "type": "string",
        "example": None,
        "default": "50/minute",
    },
    "rate_limit_query": {
        "description": "Limit of analytics query executions per key.\n",
        "version_added": "0.1.0",
        "type": "string",
        "example": None,
        "default": "100/hour",
    },
    "rate_limit_bulk": {
        "description": "Limit of bulk operations (imports, exports) per key.\n",
        "version_added": "0.1.0",
        "type": "string",
        "example": None,
        "default": "10/minute",
    },
    "rate_limit_fallback_seconds": {
        "description": (
            "After the shared rate-limit storage (Redis) fails, requests are counted per process for this "
            "many seconds before the storage is tried again; one request per period pays the probe.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "30",
    },
    "oauth_access_token_expires_in": {
        "description": "Lifetime of OAuth2 access tokens issued by ``/oauth/token``, in seconds.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "3600",
    },
    "oauth_refresh_token_expires_in": {
        "description": "Lifetime of OAuth2 refresh tokens, in seconds.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "2592000",
    },
    "oauth_code_expires_in": {
        "description": "Lifetime of OAuth2 authorization codes, in seconds.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "300",
    },
    "datakits_folder": {
        "description": (
            "Folder of the DataKit registry's manifest files and the deployment spec files the DAG "
            "factory turns into DAGs. The DAG processor and every worker must see it. Empty means "
            "``{dags_folder}/platform_datakits``.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "/opt/airflow/dags/platform_datakits",
        "default": "",
    },
    "connection_test_timeout": {
        "description": "Seconds a connection test may take before it is reported as failed.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "10",
    },
    "analytics_memory_limit": {
        "description": (
            "Memory the embedded DuckDB warehouse may use for analytics queries in one server process "
            "(DuckDB notation). DuckDB applies it per database instance, so the concurrent queries of a "
            "process share it.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "4GB",
        "default": "1GB",
    },
    "analytics_threads": {
        "description": "Threads DuckDB may use for analytics queries per server process; 0: one per core.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "0",
    },
    "analytics_max_rows": {
        "description": "Largest ``limit`` an analytics query may ask for (rows kept per result).\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "5000000",
    },
    "analytics_max_timeout_seconds": {
        "description": "Largest ``timeout_seconds`` an analytics query may ask for.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "600",
    },
    "analytics_sync_wait_seconds": {
        "description": (
            "How long ``POST /api/v1/analytics/query`` waits for a query before it answers with the "
            "``query_id`` and status ``running`` (poll ``GET .../query/{query_id}``).\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "5",
    },
    "analytics_max_concurrent_queries": {
        "description": "Queries one server process runs at once; more wait as ``queued``.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "8",
    },
    "analytics_lock_wait_seconds": {
        "description": (
            "How long a query waits for a writer (a DataKit task loading data) to release the warehouse "
            "file before it answers 503. Keep it below ``analytics_sync_wait_seconds`` so that callers "
            "get the 503 itself rather than a ``running`` query that fails later.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "3",
    },
    "analytics_keepalive_seconds": {
        "description": (
            "How long a server process keeps the warehouse open after its last query (opening it costs "
            "~15 ms). A writer that announces itself (``open_for_writing``) gets it at once.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "2",
    },
    "analytics_results_path": {
        "description": (
            "Folder of query results (Arrow IPC files) that every server process reads. Empty means "
            "``{AIRFLOW_HOME}/platform/query-results``; several hosts need a shared folder.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "/shared/query-results",
        "default": "",
    },
    "analytics_result_ttl_seconds": {
        "description": "How long a query's rows stay fetchable; its history entry stays.\n",
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "86400",
    },
    "analytics_cache_ttl_seconds": {
        "description": (
            "How long an identical warehouse query (same database, normalised SQL, parameters, limit and "
            "data version) is answered from the previous result; 0 turns the cache off.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "300",
    },
    "analytics_shared_schemas": {
        "description": (
            "Warehouse schemas every tenant may read, comma-separated. A tenant whose metadata has "
            "``warehouse_schemas`` (comma-separated) reads those instead. Platform admins read all.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "bronze,silver,gold",
        "default": "bronze,silver,gold",
    },
    "datakit_docker_url": {
        "description": (
            "Docker engine that DataKitOperator runs images on (``unix://...`` or ``tcp://...``), when the "
            "task names neither ``docker_conn_id`` nor ``docker_url``. Empty means ``DOCKER_HOST`` or the "
            "default socket.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "unix:///var/run/docker.sock",
        "default": "",
    },
    "datakit_work_dir": {
        "description": (
            "Where DataKitOperator stages a run's input and output Parquet files (one folder per run, "
            "removed afterwards). The Docker engine bind-mounts it, so it must be a path the engine "
            "sees. Empty means the system temp folder.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "/var/lib/airflow/datakits",
        "default": "",
    },
    "datakit_lock_wait_seconds": {
        "description": (
            "How long a DataKit task waits for the warehouse's write lock (readers hold it briefly) "
            "before it fails.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "60",
    },
    "datakit_object_storage_uri": {
        "description": (
            "Where DataKit runs on Kubernetes exchange their Parquet files with the pod, when the task "
            "names no ``object_storage_uri`` (``s3://bucket/prefix``; ``s3://conn_id@bucket/prefix`` uses "
            "an Airflow connection). Each run uses ``<uri>/<dag_id>/<run_id>/<task_id>/`` and deletes it.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "s3://aws_default@data-lake/datakits",
        "default": "",
    },
    "export_allowed_paths": {
        "description": (
            "Comma-separated absolute folders that scheduled exports of saved queries may write to with "
            "``file://`` destinations (a tenant's exports go under ``<folder>/<tenant_id>/``). Empty means "
            "``{AIRFLOW_HOME}/platform/exports``. ``s3://`` destinations are not limited here: the "
            "workers' own S3 credentials decide.\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "/srv/exports,/mnt/reports",
        "default": "",
    },
    "webhook_allowed_hosts": {
        "description": (
            "Comma-separated webhook targets that may be non-public addresses (loopback, private, "
            "link-local...), which are refused otherwise: host names (exact, case-insensitive), IP "
            "addresses or CIDRs, each optionally with ``:port`` (IPv6 in brackets: ``[fd00::1]:8080``). "
            "A URL passes when its host name is listed, or when every address it resolves to is "
            "public or inside a listed IP/CIDR (with a matching port when one is given).\n"
        ),
        "version_added": "0.1.0",
        "type": "string",
        "example": "hooks.internal.example.com,10.20.0.0/16:8443,[fd00::7]:8080",
        "default": "",
    },
    "webhook_timeout_seconds": {
        "description": (
            "Seconds one webhook delivery attempt may take in all (resolving, connecting, sending, "
            "the answer) before it counts as failed and is retried by the webhook's retry policy.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "10",
    },
    "webhook_dispatcher": {
        "description": (
            "Run a webhook dispatcher thread in every API-server (Airflow 3) or webserver (Airflow 2) "
            "process. Several dispatchers share the outbox safely (leases). Turn it off to run "
            "``airflow-platform webhooks dispatch`` as a process of its own instead.\n"
        ),
        "version_added": "0.1.0",
        "type": "boolean",
        "example": None,
        "default": "True",
    },
    "webhook_poll_seconds": {
        "description": (
            "How often a dispatcher reads Airflow's tables for new events and the outbox for due "
            "deliveries.\n"
        ),
        "version_added": "0.1.0",
        "type": "float",
        "example": None,
        "default": "0.5",
    },
    "webhook_concurrency": {
        "description": (
            "Deliveries one dispatcher sends at the same time (threads; receivers answering in tens of "
            "milliseconds need more than loopback ones).\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "16",
    },
    "webhook_lease_seconds": {
        "description": (
            "How long a dispatcher holds a delivery it is sending; when it dies, another one sends the "
            "delivery again (same ``webhook-id``) after this. Keep it above ``webhook_timeout_seconds``.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "60",
    },
    "webhook_collect_overlap_seconds": {
        "description": (
            "The event collector re-reads this many seconds before its cursor, for rows of Airflow's "
            "tables that commit late (rescanning is harmless: each event is queued once).\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "60",
    },
    "webhook_secret_grace_seconds": {
        "description": (
            "After a secret rotation, the previous secret keeps signing deliveries (a second signature) "
            "this many seconds.\n"
        ),
        "version_added": "0.1.0",
        "type": "integer",
        "example": None,
        "default": "86400",
    },
}


def _conf() -> Any:
    from airflow.configuration import conf

    return conf


# Airflow's conf.get costs ~15 µs, and the platform reads several options per request. The file
# is read once per process anyway, so only AIRFLOW__PLATFORM__* variables can change while it
# runs: values are cached until one of those changes.
_ENV_PREFIX = f"AIRFLOW__{SECTION.upper()}__"
_cache: dict[tuple[str, str], Any] = {}
_ENV_NAMES = tuple(_ENV_PREFIX + key.upper() for key in OPTIONS)
_cache_env: list[tuple[Any, ...]] = [()]


#: The same names as ``os.environ`` keys them internally, for a fingerprint without ~40 decodes.
_ENV_KEYS = tuple(map(os.environ.encodekey, _ENV_NAMES))


def _fingerprint() -> tuple[Any, ...]:
    """The values of our variables: read from ``os.environ``'s own dict (1 µs instead of 25 µs,
    twice a request); every change through ``os.environ`` lands there, as ``os.environ.get`` sees."""
    data = getattr(os.environ, "_data", None)
    if not isinstance(data, dict):
        return tuple(os.environ.get(name) for name in _ENV_NAMES)
    return tuple(map(data.get, _ENV_KEYS))


def _refresh() -> None:
    fingerprint = _fingerprint()
    if fingerprint != _cache_env[0]:
        _cache.clear()
        _cache_env[0] = fingerprint


def _cached(kind: str, key: str, refresh: bool = True) -> Any:
    if refresh:
        _refresh()
    try:
        return _cache[(kind, key)]
    except KeyError:
        pass
    default = OPTIONS[key]["default"]
    conf = _conf()
    if kind == "bool":
        value: Any = bool(conf.getboolean(SECTION, key, fallback=default == "True"))
    elif kind == "int":
        value = int(conf.getint(SECTION, key, fallback=int(default)))
    else:
        value = str(conf.get(SECTION, key, fallback=default))
    _cache[(kind, key)] = value
    return value


def get(key: str) -> str:
    return str(_cached("str", key))


def get_many(*keys: str) -> tuple[str, ...]:
    """Several string options for the price of one freshness check (per-request hot paths)."""
    _refresh()
    return tuple(str(_cached("str", key, refresh=False)) for key in keys)


def get_bool(key: str) -> bool:
    return bool(_cached("bool", key))


def get_int(key: str) -> int:
    return int(_cached("int", key))


def airflow_home() -> str:
    from airflow.configuration import AIRFLOW_HOME

    return str(AIRFLOW_HOME)


def warehouse_path() -> str:
    path = get("warehouse_path")
    return path or os.path.join(airflow_home(), "platform", "warehouse.duckdb")


def dags_folder() -> str:
    from airflow.configuration import conf

    return os.path.expanduser(str(conf.get("core", "dags_folder")))


def datakits_folder() -> str:
    return get("datakits_folder") or os.path.join(dags_folder(), "platform_datakits")


def export_allowed_paths() -> list[str]:
    """Folders ``file://`` export destinations must lie in (absolute; relative entries are ignored)."""
    raw = get("export_allowed_paths")
    paths = [p.strip() for p in raw.split(",") if p.strip()] if raw else []
    if not paths:
        paths = [os.path.join(airflow_home(), "platform", "exports")]
    return [os.path.normpath(p) for p in paths if os.path.isabs(p)]
