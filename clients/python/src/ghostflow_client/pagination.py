"""Lazy iteration over the API's cursor-paginated listings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import httpx

__all__ = ["AsyncPaginator", "Page", "Paginator"]

T = TypeVar("T")


def cursor_of(link: object) -> str | None:
    """The ``cursor`` parameter of a ``next``/``previous`` link.

    Only the cursor is taken from the link, never its host: the next request goes to the
    client's own base URL with the original filters, so a server behind a proxy that builds
    links with an internal host name cannot send the credential anywhere else.
    """
    if not isinstance(link, str) or not link:
        return None
    cursor: str | None = httpx.URL(link).params.get("cursor")
    return cursor


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items and the cursors of its neighbours (None at either end)."""

    items: list[T]
    next_cursor: str | None
    previous_cursor: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Page[T]:
        return cls(
            items=cast(list[T], list(body.get("results") or [])),
            next_cursor=cursor_of(body.get("next")),
            previous_cursor=cursor_of(body.get("previous")),
        )


# How a paginator gets one page: by the cursor the previous page gave (None: the first page).
AsyncFetch = Callable[[str | None], Awaitable[Page[T]]]
Fetch = Callable[[str | None], Page[T]]


# The source of Paginator below, generated from it by clients/python/scripts/generate_sync.py:
# edit here, then run `make sdk-sync`.
class AsyncPaginator(Generic[T]):
    """Every item of a listing, fetched one page at a time as the iteration reaches it:
    ``async for item in client.campaigns.list()``.

    Nothing is requested until the iteration starts; iterating again starts again from the
    first page.
    """

    def __init__(self, fetch: AsyncFetch[T]) -> None:
        self._fetch = fetch

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def pages(self) -> AsyncIterator[Page[T]]:
        """The pages themselves, first to last."""
        cursor: str | None = None
        while True:
            page = await self._fetch(cursor)
            yield page
            # A cursor that does not move would loop forever; the listing is over.
            if page.next_cursor is None or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    async def first_page(self) -> Page[T]:
        """Only the first page (one request)."""
        return await self._fetch(None)

    async def collect(self, limit: int | None = None) -> list[T]:
        """Up to `limit` items (all of them when None) in a list."""
        items: list[T] = []
        async for item in self:
            if limit is not None and len(items) >= limit:
                break
            items.append(item)
        return items


# --- generated from AsyncPaginator by clients/python/scripts/generate_sync.py: do not edit ---
class Paginator(Generic[T]):
    """Every item of a listing, fetched one page at a time as the iteration reaches it:
    ``for item in client.campaigns.list()``.

    Nothing is requested until the iteration starts; iterating again starts again from the
    first page.
    """

    def __init__(self, fetch: Fetch[T]) -> None:
        self._fetch = fetch

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def pages(self) -> Iterator[Page[T]]:
        """The pages themselves, first to last."""
        cursor: str | None = None
        while True:
            page = self._fetch(cursor)
            yield page
            # A cursor that does not move would loop forever; the listing is over.
            if page.next_cursor is None or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def first_page(self) -> Page[T]:
        """Only the first page (one request)."""
        return self._fetch(None)

    def collect(self, limit: int | None = None) -> list[T]:
        """Up to `limit` items (all of them when None) in a list."""
        items: list[T] = []
        for item in self:
            if limit is not None and len(items) >= limit:
                break
            items.append(item)
        return items


# --- end of the generated Paginator ---
