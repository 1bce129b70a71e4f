"""Pydantic models of every request and response body.

No Airflow, Flask or SQLAlchemy import here: the SDK uses the same models as the server.
"""
