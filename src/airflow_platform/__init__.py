"""Airflow Platform: a data platform inside Apache Airflow.

The top-level package stays import-light, so that ``import airflow_platform`` works on a laptop
without Airflow and costs Airflow's plugin loader almost nothing: ``PlatformClient`` and
``AsyncPlatformClient`` are imported (with httpx) only when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_platform.version import __version__

if TYPE_CHECKING:
    from airflow_platform.sdk import AsyncPlatformClient, PlatformClient

__all__ = ["AsyncPlatformClient", "PlatformClient", "__version__"]

_LAZY = {"PlatformClient", "AsyncPlatformClient"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from airflow_platform import sdk

        value = getattr(sdk, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'airflow_platform' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
