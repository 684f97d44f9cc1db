"""Zendesk's two pagination styles, as async page iterators.

Cursor pagination (opt-in with ``page[size]``) answers ``meta.has_more`` and a
``links.next`` URL with percent-encoded brackets; we follow that URL verbatim and
stop when ``has_more`` is false. Offset pagination (the only kind the search
endpoints speak) answers ``next_page``/``count``; Zendesk rejects offset requests
beyond the first 10,000 records with a 400 (search: beyond 1,000 with a 422), so
the iterator stops before crossing ``max_records`` instead of provoking it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from connectors.errors import UpstreamBadResponse
from connectors.pagination import PageGuard
from connectors.upstream_http import UpstreamHTTP

OFFSET_RECORD_LIMIT = 10_000
SEARCH_RESULT_LIMIT = 1_000


def _items(connector: str, body: Any, key: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise UpstreamBadResponse(connector, f"response has no '{key}' list")
    return items


async def cursor_pages(
    http: UpstreamHTTP,
    path: str,
    key: str,
    *,
    params: Mapping[str, str] | None = None,
    page_size: int = 100,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of ``key`` items, following ``links.next`` until ``has_more`` is false."""
    guard = PageGuard(http.connector)
    body = await http.get_json(path, params={**(params or {}), "page[size]": page_size})
    while True:
        yield _items(http.connector, body, key)
        meta = body.get("meta") or {}
        next_url = (body.get("links") or {}).get("next")
        if not meta.get("has_more") or not next_url:
            return
        body = await http.get_json(guard.advance(next_url))


async def offset_pages(
    http: UpstreamHTTP,
    path: str,
    key: str,
    *,
    params: Mapping[str, str] | None = None,
    per_page: int = 100,
    max_records: int = OFFSET_RECORD_LIMIT,
    limit: str | None = None,
) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
    """Pages of ``(items, count)``, following ``next_page`` up to
    ``max_records``; each page counts against ``limit`` too, when named
    (``UpstreamHTTP.request``)."""
    guard = PageGuard(http.connector)
    body = await http.get_json(
        path, params={**(params or {}), "per_page": per_page}, limit=limit
    )
    fetched = 0
    while True:
        items = _items(http.connector, body, key)
        fetched += len(items)
        yield items, int(body.get("count") or 0)
        next_url = body.get("next_page")
        if not next_url or not items or fetched + per_page > max_records:
            return
        body = await http.get_json(guard.advance(next_url), limit=limit)
