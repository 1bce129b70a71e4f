"""End-to-end tests share the session's actors (``tests/actors.py``, fixture in ``tests/conftest.py``)."""

from __future__ import annotations

from tests.actors import MADE_SECRETS, PASSWORD, Actors

__all__ = ["MADE_SECRETS", "PASSWORD", "Actors"]
