"""The Python SDK. Imports pydantic schemas and httpx, never Airflow."""
