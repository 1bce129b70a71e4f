"""The options every command shares, and the client they build.

Precedence, highest first: a root flag (``--base-url``, ``--tenant``, ``--timeout``), the environment,
the config file. ``api_key`` wins over ``client_id``/``client_secret`` when both are set.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from airflow_platform.cli.config_store import ConfigStore
from airflow_platform.sdk.client import PlatformClient
from airflow_platform.sdk.settings import DEFAULT_TIMEOUT


@dataclass
class CliOptions:
    base_url: str | None = None
    tenant: str | None = None
    timeout: float | None = None


def options(ctx: typer.Context) -> CliOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, CliOptions):
        root.obj = CliOptions()
    return root.obj


def make_client(ctx: typer.Context, store: ConfigStore | None = None) -> PlatformClient:
    store = store or ConfigStore()
    opts = options(ctx)

    def value(name: str) -> str | None:
        return store.effective(name)[0]

    base_url = opts.base_url or value("base_url")
    if not base_url:
        raise ValueError(
            "No server configured: run `airflow-cli config set base_url https://…` "
            "or set AIRFLOW_PLATFORM_URL."
        )
    api_key = value("api_key")
    client_id = client_secret = None
    if not api_key:
        client_id, client_secret = value("client_id"), value("client_secret")
    timeout = opts.timeout or float(value("timeout") or DEFAULT_TIMEOUT)
    return PlatformClient(
        base_url=base_url,
        api_key=api_key,
        client_id=client_id,
        client_secret=client_secret,
        tenant=opts.tenant or value("tenant"),
        timeout=timeout,
    )
