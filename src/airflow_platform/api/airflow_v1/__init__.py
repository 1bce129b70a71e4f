"""Airflow 2's stable REST API (``/api/v1``) for the DAG, run and task calls of the reference, on Airflow 3.

Airflow 3 removed ``/api/v1``. The root middleware (``api/asgi.py``) hands ``/api/v1/dags…`` to
:mod:`.facade`, which makes an in-process ASGI sub-request to Airflow 3's own ``/api/v2`` route with
the caller's credentials, so Airflow's logic and permission checks stay the ones that decide; only
the request and response shapes are translated (:mod:`.shapes`, which is free of Airflow imports).
On Airflow 2.11 none of this is loaded: Airflow's own ``/api/v1`` serves those calls.
"""
