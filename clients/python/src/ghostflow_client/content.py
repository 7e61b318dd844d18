"""The Content API: a team's public, read-only data, with an integration's publishable Content key.

    from ghostflow_client import GhostFlowContent

    with GhostFlowContent("https://api.example.com", content_key="5f1d...") as content:
        team = content.team()
        for campaign in content.campaigns(filter="slug:-[old,older]", include=["offer"]):
            print(campaign["name"], campaign["offer"])
        spring = content.campaign_by_slug("spring-sale")

Listings follow Ghost's Content API: pages of ``limit`` items (at most 50), fetched as the
iteration reaches them; ``filter`` in Ghost's NQL, ``order``, ``fields`` and ``include`` are passed
through as the server takes them (a parameter it cannot apply raises ``ValidationError`` with the
server's code, e.g. ``filter_syntax_error``).

The key travels as ``?key=`` (the only credential the Content API takes, and the only place a
key may be put in a URL: it is publishable). Every request says ``Accept-Version: v1``. Answers
carry an ``ETag``; the client keeps the last answer of each URL and sends ``If-None-Match``, so
an unchanged answer costs the server a 304 and is served from memory (``etag_cache=False`` turns
this off). Refusals raise the same exceptions as the main client (``AuthenticationError``
``key_invalid``, ``RateLimitedError``, ...).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx

from . import _core
from ._concurrency import async_sleep, sleep
from ._redact import redact_url
from .auth import check_content_key
from .errors import ConfigurationError, error_from_response, parse_retry_after
from .models import PublicCampaign, PublicOffer, PublicTeam
from .pagination import AsyncPaginator, Page, Paginator
from .retry import DEFAULT_RETRY, RetryPolicy

__all__ = ["CONTENT_API_VERSION", "AsyncGhostFlowContent", "GhostFlowContent"]

T = TypeVar("T")

CONTENT_PREFIX = "/api/content/v1"
CONTENT_API_VERSION = "v1"
# How many answers the ETag cache keeps (the least recently used go first).
ETAG_CACHE_SIZE = 256


def normalize_content_url(base_url: str) -> str:
    """``https://api.example.com`` (or ``.../api/v1``, or ``.../api/content/v1``) -> ``.../api/content/v1/``."""
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {redact_url(base_url)!r}")
    path = url.path.rstrip("/")
    if path.endswith(_core.API_PREFIX):
        path = path.removesuffix(_core.API_PREFIX)
    if not path.endswith(CONTENT_PREFIX):
        path += CONTENT_PREFIX
    return str(url.copy_with(path=path + "/", query=None, fragment=None))


def _joined(names: Sequence[str] | None) -> str | None:
    if isinstance(names, str):  # include="offer": one name, not its letters
        return names
    return ",".join(names) if names else None


def _listing(
    limit: int | None,
    filter: str | None,
    order: str | None,
    fields: Sequence[str] | None,
    include: Sequence[str] | None,
) -> dict[str, object | None]:
    return {"limit": limit, "filter": filter, "order": order, "fields": _joined(fields), "include": _joined(include)}


def _segment(value: str) -> str:
    """An id or slug as one path segment: nothing in it can reach another path."""
    return quote(str(value), safe="")


def _page(body: Mapping[str, Any], key: str) -> Page[T]:
    """A Ghost-style page, ``{key: [...], "meta": {"pagination": {"next", "prev", ...}}}``: the
    "cursor" of a page is its number."""
    pagination = body.get("meta", {}).get("pagination", {})
    following, preceding = pagination.get("next"), pagination.get("prev")
    return Page(
        items=cast(list[T], list(body.get(key) or [])),
        next_cursor=str(following) if following else None,
        previous_cursor=str(preceding) if preceding else None,
    )


def _single(body: Mapping[str, Any], key: str) -> Any:
    """The one item of a read (``{key: [item]}``)."""
    return (body.get(key) or [None])[0]


class _ETagCache:
    """The last 200 answer of each URL (with its query) and its ETag. Thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> tuple[str, Any] | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None:
                self._entries.move_to_end(url)
            return entry

    def put(self, url: str, etag: str, body: Any) -> None:
        with self._lock:
            self._entries[url] = (etag, body)
            self._entries.move_to_end(url)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class _ContentBase:
    """What the sync and async Content clients share: the key, the URLs, the headers, the cache."""

    def __init__(
        self,
        base_url: str,
        content_key: str,
        *,
        retry: RetryPolicy,
        user_agent: str | None,
        etag_cache: bool,
    ) -> None:
        self.base_url = normalize_content_url(base_url)
        self._key = check_content_key(content_key)
        self._retry = retry
        self._user_agent = user_agent or _core.default_user_agent()
        self._cache = _ETagCache(ETAG_CACHE_SIZE) if etag_cache else None

    def _prepare(self, path: str, params: Mapping[str, object | None]) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL, the query (with the key) and the headers of one GET."""
        url = self.base_url + path
        query = {**_core.query(params), "key": self._key}
        headers = {
            "Accept": "application/json",
            "Accept-Version": CONTENT_API_VERSION,
            "User-Agent": self._user_agent,
        }
        return url, query, headers

    def _cache_key(self, url: str, query: Mapping[str, str]) -> str:
        return str(httpx.URL(url, params=query))

    def _conditional(self, cache_key: str, headers: dict[str, str]) -> tuple[str, Any] | None:
        cached = self._cache.get(cache_key) if self._cache is not None else None
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        return cached

    def _result(self, response: httpx.Response, cache_key: str, cached: tuple[str, Any] | None) -> Any:
        if response.status_code == 304 and cached is not None:
            return cached[1]
        if response.is_error:
            raise error_from_response(response)
        body = _core.decode(response)
        etag = response.headers.get("ETag")
        if self._cache is not None and etag and response.status_code == 200:
            self._cache.put(cache_key, etag, body)
        return body

    def __repr__(self) -> str:
        # The Content key is publishable, but a repr has no reason to carry it.
        return f"{type(self).__name__}({redact_url(self.base_url)!r})"


# The source of GhostFlowContent below, generated from it by clients/python/scripts/generate_sync.py:
# edit here, then run `make sdk-sync`.
class AsyncGhostFlowContent(_ContentBase):
    """The asynchronous client of the Content API (``/api/content/v1/``), with an integration's
    Content key: ``await content.team()``, ``async for campaign in content.campaigns()``.

    Args:
        base_url: the server (``https://api.example.com``; ``/api/v1`` or ``/api/content/v1`` may be included).
        content_key: the integration's Content key (26 hex characters; publishable).
        timeout, retry, http_client, user_agent: as for :class:`ghostflow_client.AsyncGhostFlow`
            (every request is a GET, so 429/502/503/504 and lost connections are retried).
        etag_cache: send ``If-None-Match`` with the last answer's ``ETag`` and reuse that answer
            on a 304 (default on).
    """

    def __init__(
        self,
        base_url: str,
        content_key: str,
        *,
        timeout: float | httpx.Timeout = _core.DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        http_client: httpx.AsyncClient | None = None,
        user_agent: str | None = None,
        etag_cache: bool = True,
    ) -> None:
        super().__init__(base_url, content_key, retry=retry, user_agent=user_agent, etag_cache=etag_cache)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        """Close the connection pool (not one passed in as ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncGhostFlowContent:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def campaigns(
        self,
        *,
        limit: int | None = None,
        filter: str | None = None,
        order: str | None = None,
        fields: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
    ) -> AsyncPaginator[PublicCampaign]:
        """The team's active campaigns (``id``, ``name``, ``slug``; ``offer`` with ``include=["offer"]``),
        fetched page by page as iterated."""
        return self._paginate("campaigns", _listing(limit, filter, order, fields, include))

    async def campaign(self, campaign_id: str, *, include: Sequence[str] | None = None) -> PublicCampaign:
        """One active campaign, by id (``NotFoundError`` if there is none)."""
        return cast(PublicCampaign, await self._one("campaigns", f"campaigns/{_segment(campaign_id)}", include))

    async def campaign_by_slug(self, slug: str, *, include: Sequence[str] | None = None) -> PublicCampaign:
        """One active campaign, by slug."""
        return cast(PublicCampaign, await self._one("campaigns", f"campaigns/slug/{_segment(slug)}", include))

    def offers(
        self,
        *,
        limit: int | None = None,
        filter: str | None = None,
        order: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> AsyncPaginator[PublicOffer]:
        """The offers of the team's active campaigns (``id``, ``name``, ``slug``, ``url``)."""
        return self._paginate("offers", _listing(limit, filter, order, fields, None))

    async def offer(self, offer_id: str) -> PublicOffer:
        """One offer of an active campaign, by id."""
        return cast(PublicOffer, await self._one("offers", f"offers/{_segment(offer_id)}", None))

    async def offer_by_slug(self, slug: str) -> PublicOffer:
        """One offer of an active campaign, by slug."""
        return cast(PublicOffer, await self._one("offers", f"offers/slug/{_segment(slug)}", None))

    async def team(self) -> PublicTeam:
        """The team's public profile (``id``, ``name``)."""
        return cast(PublicTeam, await self._get("team", {}))

    async def _one(self, key: str, path: str, include: Sequence[str] | None) -> Any:
        return _single(await self._get(path, {"include": _joined(include)}), key)

    def _paginate(self, key: str, params: dict[str, object | None]) -> AsyncPaginator[T]:
        async def fetch(cursor: str | None) -> Page[T]:
            return _page(await self._get(key, {**params, "page": cursor}), key)

        return AsyncPaginator(fetch)

    async def _get(self, path: str, params: Mapping[str, object | None]) -> Any:
        url, query, headers = self._prepare(path, params)
        cache_key = self._cache_key(url, query)
        cached = self._conditional(cache_key, headers)
        attempt = 0
        while True:
            try:
                response = await self._http.get(url, params=query, headers=headers)
            except httpx.TransportError as exc:
                if self._retry.may_retry("GET", attempt):
                    await async_sleep(self._retry.delay(attempt) or 0.0)
                    attempt += 1
                    continue
                raise _core.network_error(exc, "GET", url) from exc
            if response.status_code in self._retry.retry_statuses and self._retry.may_retry("GET", attempt):
                delay = self._retry.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
                if delay is not None:
                    await async_sleep(delay)
                    attempt += 1
                    continue
            return self._result(response, cache_key, cached)


# --- generated from AsyncGhostFlowContent by clients/python/scripts/generate_sync.py: do not edit ---
class GhostFlowContent(_ContentBase):
    """The synchronous client of the Content API (``/api/content/v1/``), with an integration's
    Content key: ``content.team()``, ``for campaign in content.campaigns()``.

    Args:
        base_url: the server (``https://api.example.com``; ``/api/v1`` or ``/api/content/v1`` may be included).
        content_key: the integration's Content key (26 hex characters; publishable).
        timeout, retry, http_client, user_agent: as for :class:`ghostflow_client.GhostFlow`
            (every request is a GET, so 429/502/503/504 and lost connections are retried).
        etag_cache: send ``If-None-Match`` with the last answer's ``ETag`` and reuse that answer
            on a 304 (default on).
    """

    def __init__(
        self,
        base_url: str,
        content_key: str,
        *,
        timeout: float | httpx.Timeout = _core.DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        http_client: httpx.Client | None = None,
        user_agent: str | None = None,
        etag_cache: bool = True,
    ) -> None:
        super().__init__(base_url, content_key, retry=retry, user_agent=user_agent, etag_cache=etag_cache)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connection pool (not one passed in as ``http_client``)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> GhostFlowContent:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def campaigns(
        self,
        *,
        limit: int | None = None,
        filter: str | None = None,
        order: str | None = None,
        fields: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
    ) -> Paginator[PublicCampaign]:
        """The team's active campaigns (``id``, ``name``, ``slug``; ``offer`` with ``include=["offer"]``),
        fetched page by page as iterated."""
        return self._paginate("campaigns", _listing(limit, filter, order, fields, include))

    def campaign(self, campaign_id: str, *, include: Sequence[str] | None = None) -> PublicCampaign:
        """One active campaign, by id (``NotFoundError`` if there is none)."""
        return cast(PublicCampaign, self._one("campaigns", f"campaigns/{_segment(campaign_id)}", include))

    def campaign_by_slug(self, slug: str, *, include: Sequence[str] | None = None) -> PublicCampaign:
        """One active campaign, by slug."""
        return cast(PublicCampaign, self._one("campaigns", f"campaigns/slug/{_segment(slug)}", include))

    def offers(
        self,
        *,
        limit: int | None = None,
        filter: str | None = None,
        order: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> Paginator[PublicOffer]:
        """The offers of the team's active campaigns (``id``, ``name``, ``slug``, ``url``)."""
        return self._paginate("offers", _listing(limit, filter, order, fields, None))

    def offer(self, offer_id: str) -> PublicOffer:
        """One offer of an active campaign, by id."""
        return cast(PublicOffer, self._one("offers", f"offers/{_segment(offer_id)}", None))

    def offer_by_slug(self, slug: str) -> PublicOffer:
        """One offer of an active campaign, by slug."""
        return cast(PublicOffer, self._one("offers", f"offers/slug/{_segment(slug)}", None))

    def team(self) -> PublicTeam:
        """The team's public profile (``id``, ``name``)."""
        return cast(PublicTeam, self._get("team", {}))

    def _one(self, key: str, path: str, include: Sequence[str] | None) -> Any:
        return _single(self._get(path, {"include": _joined(include)}), key)

    def _paginate(self, key: str, params: dict[str, object | None]) -> Paginator[T]:
        def fetch(cursor: str | None) -> Page[T]:
            return _page(self._get(key, {**params, "page": cursor}), key)

        return Paginator(fetch)

    def _get(self, path: str, params: Mapping[str, object | None]) -> Any:
        url, query, headers = self._prepare(path, params)
        cache_key = self._cache_key(url, query)
        cached = self._conditional(cache_key, headers)
        attempt = 0
        while True:
            try:
                response = self._http.get(url, params=query, headers=headers)
            except httpx.TransportError as exc:
                if self._retry.may_retry("GET", attempt):
                    sleep(self._retry.delay(attempt) or 0.0)
                    attempt += 1
                    continue
                raise _core.network_error(exc, "GET", url) from exc
            if response.status_code in self._retry.retry_statuses and self._retry.may_retry("GET", attempt):
                delay = self._retry.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
                if delay is not None:
                    sleep(delay)
                    attempt += 1
                    continue
            return self._result(response, cache_key, cached)


# --- end of the generated GhostFlowContent ---
