"""What an SDK operation asks of the wire, without doing any I/O.

Every operation of every namespace is written once, as a generator that *yields* :class:`Call`
objects and receives each call's decoded body back (or has the mapped exception thrown into it).
The sync client drives these generators with blocking I/O, the async client with ``await``; that is
the only difference between the two, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: A sans-I/O operation: yields calls, receives bodies, returns its result.
Op = Generator["Call", Any, T]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class Call:
    """One HTTP exchange an operation needs."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    #: ``json`` decodes the body, ``text`` returns it as a string, ``bytes`` as is, ``none`` ignores it.
    expect: Literal["json", "text", "bytes", "none"] = "json"
    accept: str = "application/json"
    #: Extra request headers of this call only (e.g. ``Accept-Encoding: identity`` for Arrow bodies).
    headers: Mapping[str, str] | None = None
    #: None: decided by the method (GET/HEAD/OPTIONS/PUT/DELETE are). A PATCH that only sets a
    #: value (pause) may say True, so that it is retried like a GET.
    idempotent: bool | None = None
    #: False for the public calls the client makes for itself (version detection), so that they
    #: never wait for a token.
    authenticated: bool = True

    @property
    def is_idempotent(self) -> bool:
        return self.method.upper() in IDEMPOTENT_METHODS if self.idempotent is None else self.idempotent


def drop_none(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters without the ones left unset (httpx would send ``?x=``)."""
    return {key: value for key, value in params.items() if value is not None and value != []}
