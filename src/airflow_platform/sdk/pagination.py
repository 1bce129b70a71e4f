"""List answers that are one page *and* every page.

``client.dags.list()`` returns its first page: ``.items`` (also under the collection's own name,
``.dags``), ``.total_entries``, ``.limit``, ``.offset`` — so the reference's manual
``limit``/``offset`` loop works — and iterating it walks every following page on demand. The async
client's list calls return an :class:`AsyncPaginator`: ``await`` it for the first page, or
``async for`` over it for every item.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from typing_extensions import Self

T = TypeVar("T")
P = TypeVar("P")


@dataclass(frozen=True)
class PageData(Generic[T]):
    """What one list operation returns: the items and where they sit in the whole."""

    items: list[T]
    total_entries: int | None
    limit: int
    offset: int


class BasePage(Generic[T]):
    def __init__(self, data: PageData[T]) -> None:
        self.items: list[T] = data.items
        self.total_entries = data.total_entries
        self.limit = data.limit
        self.offset = data.offset

    def has_next_page(self) -> bool:
        if not self.items:
            return False
        if self.total_entries is not None:
            return self.offset + len(self.items) < self.total_entries
        return len(self.items) >= self.limit

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.items)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(items={len(self.items)}, offset={self.offset}, "
            f"limit={self.limit}, total_entries={self.total_entries})"
        )


class SyncPage(BasePage[T]):
    def __init__(self, data: PageData[T], fetch: Callable[[int], Self]) -> None:
        super().__init__(data)
        self._fetch = fetch

    def next_page(self) -> Self | None:
        return self._fetch(self.next_offset) if self.has_next_page() else None

    def iter_pages(self) -> Iterator[Self]:
        page: Self | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        """Every item from this page on, fetching the next pages as it goes."""
        for page in self.iter_pages():
            yield from page.items


class AsyncPage(BasePage[T]):
    def __init__(self, data: PageData[T], fetch: Callable[[int], Awaitable[Self]]) -> None:
        super().__init__(data)
        self._fetch = fetch

    async def next_page(self) -> Self | None:
        return await self._fetch(self.next_offset) if self.has_next_page() else None

    async def iter_pages(self) -> AsyncIterator[Self]:
        page: Self | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item


class AsyncPaginator(Generic[T, P]):
    """``await`` it for the first page (``P``); ``async for`` over it for every item (``T``)."""

    def __init__(self, first: Callable[[], Awaitable[P]]) -> None:
        self._first = first

    def __await__(self) -> Generator[Any, None, P]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = cast(AsyncPage[T], await self._first())
        async for item in page:
            yield item
