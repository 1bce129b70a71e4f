"""Webhooks: events of DAG and task runs delivered to subscribers' HTTP endpoints.

Deliveries are signed the Standard Webhooks way (``signing``), sent only to public addresses or
allow-listed ones (``url_guard``), over a sender that connects to the address it checked
(``sender``), so that neither DNS tricks nor redirects reach the platform's own network.
"""
