"""Scheduled exports of saved queries: destinations, spec files, the DAG factory and the task's work.

A saved query with a ``schedule`` becomes DAG ``saved_query__<id>``, the way DataKit deployments
become DAGs: the API writes a JSON spec file, a factory DAG file turns each spec into a DAG, and
neither parsing nor the task touches the metadata DB.
"""
