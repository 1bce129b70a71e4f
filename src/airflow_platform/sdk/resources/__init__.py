"""The SDK's namespaces (``client.dags``, ``client.tasks``, ``client.tenants``, ``client.api_keys``)."""
