"""Our own tables in Airflow's metadata DB (prefix ``platform_``), with their own migrations."""
