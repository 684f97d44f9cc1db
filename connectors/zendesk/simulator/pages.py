"""Zendesk's pagination, as the simulator answers it.

Cursor mode (when ``page[size]`` is sent) answers ``meta``/``links`` and never a
``count``; the ``links`` percent-encode the brackets, as Zendesk's do. Offset
mode answers ``next_page``/``previous_page``/``count`` and refuses pages past the
record limit: 400 beyond 10,000 records, 422 beyond search's 1,000 (both bodies
are unverified guesses; clients must rely on the status only).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MAX_PAGE_SIZE = 100


def _int(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


def _url(request: Request, **changes: str | int) -> str:
    params = {
        k: v
        for k, v in request.query_params.items()
        if k not in ("page[after]", "page[before]", "page")
    }
    params.update({k: str(v) for k, v in changes.items()})
    return f"{request.url.replace(query='')}?{urlencode(params)}"


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    prefix, _, number = raw.partition(":")
    return int(number) if prefix == "o" and number.isdigit() else None


def cursor_or_offset(request: Request, items: Sequence[Any], key: str) -> Response:
    if "page[size]" in request.query_params:
        return cursor_page(request, items, key)
    return offset_page(request, items, key)


def cursor_page(request: Request, items: Sequence[Any], key: str) -> Response:
    size = min(MAX_PAGE_SIZE, max(1, _int(request.query_params["page[size]"], 100)))
    start = 0
    if after := request.query_params.get("page[after]"):
        decoded = _decode(after)
        if decoded is None:
            return JSONResponse(
                {"error": "InvalidPaginationParameter", "description": "bad cursor"},
                status_code=400,
            )
        start = decoded
    end = min(start + size, len(items))
    has_more = end < len(items)
    after_cursor = _encode(end) if end > start else None
    before_cursor = _encode(start) if end > start else None
    next_url = _url(request, **{"page[after]": _encode(end)}) if has_more else None
    prev_url = _url(request, **{"page[before]": _encode(start)}) if start else None
    return JSONResponse(
        {
            key: list(items[start:end]),
            "meta": {
                "has_more": has_more,
                "after_cursor": after_cursor,
                "before_cursor": before_cursor,
            },
            "links": {"prev": prev_url, "next": next_url},
        }
    )


def offset_page(
    request: Request, items: Sequence[Any], key: str, *, max_records: int = 10_000
) -> Response:
    page = max(1, _int(request.query_params.get("page"), 1))
    per_page = min(
        MAX_PAGE_SIZE, max(1, _int(request.query_params.get("per_page"), 100))
    )
    start = (page - 1) * per_page
    if start >= max_records:
        status = 422 if max_records < 10_000 else 400
        return JSONResponse(
            {
                "error": "InvalidPaginationParameter",
                "description": f"Offset pagination is limited to {max_records} records",
            },
            status_code=status,
        )
    end = start + per_page
    return JSONResponse(
        {
            key: list(items[start:end]),
            "next_page": _url(request, page=page + 1) if end < len(items) else None,
            "previous_page": _url(request, page=page - 1) if page > 1 else None,
            "count": len(items),
        }
    )
