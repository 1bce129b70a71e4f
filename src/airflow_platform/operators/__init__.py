"""Operators for DAG authors."""

from __future__ import annotations

from airflow_platform.operators.datakit import DataKitOperator

__all__ = ["DataKitOperator"]
