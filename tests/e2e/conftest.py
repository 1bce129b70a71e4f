"""End-to-end tests share the session's actors (``tests/actors.py``, fixture in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.actors import MADE_SECRETS, PASSWORD, Actors

__all__ = ["MADE_SECRETS", "PASSWORD", "Actors"]


# Clients over the requesting module's own `keys` fixture (e.g. `analytics_support.key_set`).
@pytest.fixture
def admin(actors: Actors, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with actors.client(keys["admin"]) as c:
        yield c


@pytest.fixture
def alice(actors: Actors, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with actors.client(keys["alice"]) as c:
        yield c


@pytest.fixture
def bob(actors: Actors, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with actors.client(keys["bob"]) as c:
        yield c
