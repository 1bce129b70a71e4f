"""Airflow Platform: a data platform inside Apache Airflow.

The top-level package stays import-light, so that ``import airflow_platform`` works on a laptop
without Airflow and costs Airflow's plugin loader almost nothing.
"""

from __future__ import annotations

from airflow_platform.version import __version__

__all__ = ["__version__"]
