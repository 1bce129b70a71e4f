"""The standalone Flask app that serves the platform on Airflow 3 (behind the root middleware)
and in tests."""

from __future__ import annotations

from flask import Flask

from airflow_platform.api import errors
from airflow_platform.api.blueprint import build_blueprint
from airflow_platform.api.wsgi_bridge import mark_buffered


def create_app() -> Flask:
    app = Flask("airflow_platform", static_folder=None)
    app.config["JSON_SORT_KEYS"] = False
    app.register_blueprint(build_blueprint())
    # Paths outside our blueprint never reach this app in production; answer them alike anyway.
    errors.register(app)
    app.after_request(mark_buffered)  # Airflow 3's bridge sends finished answers in one go
    return app
