"""What every namespace shares: the core it runs on, paging, and client-side validation.

A namespace is one module: a mixin of sans-I/O operations (``_FooOps``), then a sync class and an
async class whose methods only hand those operations to their core. Adding a namespace is adding
such a module and one cached property on each client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pydantic

from airflow_platform import exceptions as exc
from airflow_platform.sdk.calls import Op
from airflow_platform.sdk.core import AsyncCore, BaseCore, SyncCore
from airflow_platform.sdk.pagination import AsyncPage, AsyncPaginator, PageData, SyncPage

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)
SP = TypeVar("SP", bound=SyncPage[Any])
AP = TypeVar("AP", bound=AsyncPage[Any])

#: A list operation for a given offset.
PageOp = Callable[[int], Op[PageData[T]]]


def validated(model: type[M], **fields: Any) -> M:
    """A request body checked before it leaves the client, failing the way the server would."""
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False, include_input=False)
        ]
        first = problems[0] if problems else {"field": model.__name__, "message": "invalid"}
        raise exc.ValidationError(
            f"Invalid {model.__name__}: {first['field']}: {first['message']}", details={"errors": problems}
        ) from None


def states(value: str | list[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else value


class Ops:
    """Base of the operation mixins: they only need the server info and to yield calls."""

    _core: BaseCore

    def __init__(self, core: BaseCore) -> None:
        self._core = core


class SyncResource(Ops):
    _core: SyncCore

    def _run(self, op: Op[T]) -> T:
        return self._core.run(op)

    def _page(self, page_cls: type[SP], op_for: PageOp[Any], offset: int) -> SP:
        data = self._core.run(op_for(offset))
        return page_cls(data, lambda next_offset: self._page(page_cls, op_for, next_offset))


class AsyncResource(Ops):
    _core: AsyncCore

    async def _run(self, op: Op[T]) -> T:
        return await self._core.run(op)

    async def _page(self, page_cls: type[AP], op_for: PageOp[Any], offset: int) -> AP:
        data = await self._core.run(op_for(offset))
        return page_cls(data, lambda next_offset: self._page(page_cls, op_for, next_offset))

    def _paginator(self, page_cls: type[AP], op_for: PageOp[T], offset: int) -> AsyncPaginator[T, AP]:
        return AsyncPaginator(lambda: self._page(page_cls, op_for, offset))
