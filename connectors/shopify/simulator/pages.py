"""Shopify's connection rules, for every list the simulator pages: ``first``
required and at most 250, opaque base64-JSON cursors keyed on ``(sort value,
id)``, garbage cursors rejected, ``endCursor`` null on an empty page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

from connectors.shopify.simulator.data import Record

MAX_PAGE = 250
SortKey = Callable[[Record], Any]


def by_number(r: Record) -> Any:
    return r["_number"]


def encode_cursor(key: tuple[Any, Any]) -> str:
    raw = json.dumps({"last_id": key[1], "last_value": key[0]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[Any, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return data["last_value"], data["last_id"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise GraphQLError("Invalid cursor for current pagination.") from exc


def connection(
    items: Sequence[Record],
    *,
    first: int | None,
    after: str | None,
    key: SortKey = by_number,
    reverse: bool = False,
) -> Record:
    """One page of ``items`` in Relay connection shape."""
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if first > MAX_PAGE or first < 0:
        raise GraphQLError(f"The page size must be between 0 and {MAX_PAGE}.")
    keyed = sorted(((key(r), r.get("_number", i)), r) for i, r in enumerate(items))
    if reverse:
        keyed.reverse()
    if after is not None:
        start = decode_cursor(after)
        try:
            keyed = [(k, r) for k, r in keyed if (k < start if reverse else k > start)]
        except TypeError as exc:
            raise GraphQLError("Invalid cursor for current pagination.") from exc
    page = keyed[:first]
    edges = [{"cursor": encode_cursor(k), "node": r} for k, r in page]
    return {
        "edges": edges,
        "nodes": [r for _, r in page],
        "pageInfo": {
            "hasNextPage": len(keyed) > first,
            "hasPreviousPage": after is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def positional(items: Sequence[Record], first: int | None, after: str | None) -> Record:
    return connection(items, first=first, after=after, key=lambda r: 0)
