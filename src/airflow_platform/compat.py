"""Everything that differs between Airflow 2.11 and Airflow 3.x, and nothing else.

Other modules ask this one; none of them looks at Airflow's version itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def airflow_version() -> str:
    from airflow import __version__

    return str(__version__)


@cache
def _version_tuple() -> tuple[int, int]:
    from packaging.version import Version

    v = Version(airflow_version())
    return (v.major, v.minor)


def is_airflow_3() -> bool:
    return _version_tuple() >= (3, 0)


def sql_alchemy_conn() -> str:
    from airflow import settings

    return str(settings.SQL_ALCHEMY_CONN)


def metadata_engine() -> Any:
    """The engine of Airflow's metadata DB, configured the way Airflow configures it."""
    from airflow import settings

    if settings.engine is None:  # a process where Airflow has not set up the ORM yet
        settings.configure_orm()
    return settings.engine


def exempt_from_csrf(blueprint: Any) -> None:
    """Airflow 2's webserver protects every form POST with CSRF; API calls carry no token."""
    if is_airflow_3():
        return
    from airflow.www.app import csrf

    csrf.exempt(blueprint)


def base_db_manager() -> type:
    """Airflow 3's base class for DB managers of external tables (absent on Airflow 2)."""
    from airflow.utils.db_manager import BaseDBManager

    return BaseDBManager
