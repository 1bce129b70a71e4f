"""DataKits: manifests, deployment specs, the DAG factory and the container runtimes."""
