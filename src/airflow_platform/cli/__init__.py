"""``airflow-cli``: the reference's command-line interface. Never imports Airflow."""
