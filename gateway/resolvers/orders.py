"""Ecommerce reads: our customer id → Shopify link → the Shopify loaders.

A page of orders reads the customer's newest ``offset + first`` orders (a
window, cached per customer), never the whole history; a deeper page reads a
bigger window. While Shopify fails, a page is read from the last good window
even when it is smaller than the page (``ReadThrough.load_or_last_good``): it
shows the orders that window holds, says more follow, and the response marks
them stale; a page past them is ``UPSTREAM_UNAVAILABLE``.

Each returns ``None`` when Shopify is not configured or the customer has no
Shopify record, so the field is ``null`` rather than an error. What Shopify
did not give for a missing access scope (``unavailable`` on the canonical
models) is ``UpstreamForbidden``: that field is null with its code, the rest of
the order answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any
from weakref import finalize

from strawberry.types.nodes import SelectedField, Selection

from connectors.errors import UpstreamForbidden, UpstreamUnavailable
from connectors.models import (
    Checkout,
    ExternalCustomer,
    Order,
    OrderSummary,
    OrderT,
    OrderWindow,
    Return,
)
from gateway.loaders.upstream import ByCustomer
from gateway.loaders.windows import window_size
from gateway.relay.pagination import after_position, check_first, window_cursor
from gateway.resolvers.context import Info

ORDERS = window_cursor("orders")


FULL_PARTS = frozenset({"subtotal", "totalRefunded", "refunds", "returns"})
"""Order fields only a full order has (and a line item's ``total``)."""
SOURCE = "shopify"


class Depth(IntEnum):
    """How much of each order a query shows, so how much is read: each depth
    is a window of its own (``gateway.loaders.sources.ShopifyLoaders``)."""

    SUMMARY = 0
    """No line items and none of ``FULL_PARTS``."""
    LINES = 1
    """Line items, but no line total and none of ``FULL_PARTS``."""
    FULL = 2


def readable(field: str, unavailable: frozenset[str]) -> None:
    """Raise ``UpstreamForbidden`` when Shopify did not give ``field``."""
    if field in unavailable:
        raise UpstreamForbidden(SOURCE, f"{field} not readable")


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: Sequence[Order | OrderSummary]
    has_next: bool
    total: int
    offset: int
    """Position of ``items[0]`` among the customer's orders, newest first."""


def order_cursor(order: Order | OrderSummary, position: int) -> str:
    """The order's sort key, and its position as a hint of how big a window
    the next page needs (a hint only: new orders shift positions)."""
    return ORDERS.encode((order.processed_at.isoformat(), order.id, position))


def _sort_key(order: Order | OrderSummary) -> tuple[str, str]:
    return (order.processed_at.isoformat(), order.id)


def depth(selections: Iterable[Selection], *, in_line: bool = False) -> Depth:
    """The depth ``selections`` (of orders, at any level below) need. A field
    under ``@skip`` or ``@include`` counts as shown: reading more is safe."""
    needed = Depth.SUMMARY
    for selection in selections:
        if isinstance(selection, SelectedField):
            name = selection.name
            if name in FULL_PARTS or (in_line and name == "total"):
                return Depth.FULL
            if name == "lineItems":
                needed = max(needed, Depth.LINES)
            below = depth(selection.selections, in_line=in_line or name == "lineItems")
        else:  # a fragment: the same level
            below = depth(selection.selections, in_line=in_line)
        if below is Depth.FULL:
            return below
        needed = max(needed, below)
    return needed


_DEPTHS: dict[int, dict[tuple[str, ...], Depth]] = {}
"""``depth`` of each ``orders`` field of an operation, by its path; the
operation known by identity (graphql-core hashes a node by its whole tree),
forgotten with it."""


def _depth(info: Info) -> Depth:
    """``depth`` of the field's selection: found once per operation and
    field (a path without its list indexes, aliases included). A document
    is parsed once (Strawberry's ``ParserCache``), and ``depth`` reads
    nothing the variables decide, so the same field has the same depth in
    every request."""
    operation = info.operation
    known = _DEPTHS.get(id(operation))
    if known is None:
        known = _DEPTHS[id(operation)] = {}
        finalize(operation, _DEPTHS.pop, id(operation), None)
    where = tuple(key for key in info.path.as_list() if isinstance(key, str))
    found = known.get(where)
    if found is None:
        found = known[where] = depth(info.selected_fields)
    return found


async def orders(
    info: Info, customer_id: int, first: int, after: str | None
) -> OrderPage | None:
    """One page of the customer's orders from the smallest window that holds
    it, as deep as the query shows (``depth``)."""
    start, offset = _position(info, first, after)
    windows = _windows(info)
    if windows is None:
        return None
    return await _page(windows, customer_id, first, start, offset)


def first_orders(
    info: Info, customer_id: int, first: int = 10, after: str | None = None
) -> Awaitable[OrderWindow[Any] | None] | None:
    """The window ``orders`` reads first (``upstream_field(starts=)``)."""
    _, offset = _position(info, first, after)
    windows = _windows(info)
    if windows is None:
        return None
    return windows.load(customer_id, window_size(offset + first))


def _position(
    info: Info, first: int, after: str | None
) -> tuple[tuple[str, str] | None, int]:
    """The page's arguments checked: the cursor's sort key and position."""
    check_first(first, info.context.services.settings.max_page_size)
    return after_position(ORDERS, after) if after is not None else (None, 0)


def _windows(info: Info) -> ByCustomer[[int], OrderWindow[Any]] | None:
    """The windows as deep as the query shows (``depth``)."""
    shop = info.context.loaders.upstream.shopify
    if shop is None:
        return None
    needed = _depth(info)
    if needed is Depth.FULL:
        return shop.order_window
    return shop.order_lines if needed is Depth.LINES else shop.order_summaries


async def _page(
    windows: ByCustomer[[int], OrderWindow[OrderT]],
    customer_id: int,
    first: int,
    start: tuple[str, str] | None,
    offset: int,
) -> OrderPage | None:
    needed = offset + first
    while True:
        size = window_size(needed)
        window = await windows.load(customer_id, size)
        if window is None:
            return None
        newest = sorted(window.orders, key=_sort_key, reverse=True)
        rest = newest if start is None else [o for o in newest if _sort_key(o) < start]
        # Smaller than asked: Shopify failed and this is its last good window
        # (the response says it is stale). The page shows what it holds.
        covered = window.covers(size)
        if not covered and not rest:
            raise UpstreamUnavailable(SOURCE, "no order past the cursor is known")
        if len(rest) >= first or window.complete or not covered:
            return OrderPage(
                items=rest[:first],
                has_next=len(rest) > first or not window.complete,
                total=window.total,
                offset=len(newest) - len(rest),
            )
        # each step reads a strictly bigger window, so the loop ends even if
        # a window holds fewer orders than its size
        needed = max(len(newest) + first - len(rest), max(size, window.size) + 1)


async def returns(info: Info, customer_id: int) -> list[Return] | None:
    """Returns of the customer's recent orders (``CG_SHOPIFY_ORDER_HISTORY``)."""
    shop = info.context.loaders.upstream.shopify
    history = await shop.history.load(customer_id) if shop else None
    if history is None:
        return None
    for order in history.orders:
        readable("returns", order.unavailable)
    found = [r for order in history.orders for r in order.returns]
    return sorted(
        found, key=lambda r: (r.created_at is None, r.created_at), reverse=True
    )


async def abandoned_checkouts(info: Info, customer_id: int) -> list[Checkout] | None:
    shop = info.context.loaders.upstream.shopify
    checkouts = await shop.checkouts.load(customer_id) if shop else None
    if checkouts is None:
        return None
    return sorted(checkouts, key=lambda c: c.created_at, reverse=True)


async def shopify_customer(info: Info, customer_id: int) -> ExternalCustomer | None:
    shop = info.context.loaders.upstream.shopify
    return await shop.customer.load(customer_id) if shop else None
