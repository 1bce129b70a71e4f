"""Demo data for a local platform (`airflow-platform demo seed`, run by `make run`)."""
