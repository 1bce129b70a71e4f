"""``airflow-platform``: server-side administration commands (run where Airflow is installed)."""
