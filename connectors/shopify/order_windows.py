"""Windows of customers' newest orders, as big as a query shows and no bigger.

One ``nodes(ids: [customer gids])`` call reads many customers' newest orders
through ``Customer.orders(first:, sortKey: PROCESSED_AT, reverse: true)``
together with ``numberOfOrders``. Customers go as many to a call as the planned
cost (``queries.PLANNED_COST``, under Shopify's 1,000-point cap) allows and the
calls run concurrently, so a page of customers costs about one round-trip. A
window bigger than one call's worth of orders pages that customer's connection
on, one call per page.

Full orders carry their first line items, refunds and returns inline
(``queries.INLINE_*``); the rare order with more gets them re-read in one
follow-up ``nodes(ids: [order gids])`` call with larger limits, and an order
past even those has the rest paged from its own connections. Returns are not
read when the app lacks ``read_returns`` (the documents then hold none).
Summaries carry no parts, or, when a list shows what was bought, their line
items' summaries: the first five inline, the rare order with more re-read
likewise (30 line items, 7 orders a call), and one past those paged from its
``lineItems``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import UpstreamBadResponse
from connectors.models import Order, OrderSummary, OrderT, OrderWindow
from connectors.pagination import PageGuard
from connectors.shopify import mapping, queries

NAME = "shopify"
Json = dict[str, Any]
Query = Callable[[str, Json], Awaitable[Json]]
Nodes = Callable[[str, Sequence[str], Json], Awaitable[list[Json | None]]]
"""``ShopifyConnector.nodes``: a batch of ids, split when Shopify prices it
above its limit."""


@dataclass(slots=True)
class RawWindow:
    """One customer's window as read: order nodes, newest first."""

    size: int
    total: int
    complete: bool
    nodes: list[Json] = field(default_factory=list)


def _mapped(
    raw: Mapping[str, RawWindow], each: Callable[[Json, str], OrderT]
) -> dict[str, OrderWindow[OrderT]]:
    """Each window's order nodes mapped by ``each(node, customer gid)``."""
    return {
        gid: OrderWindow(
            w.size, w.total, w.complete, tuple(each(n, gid) for n in w.nodes)
        )
        for gid, w in raw.items()
    }


def customers_per_call(first: int, order_cost: int) -> int:
    """How many customers' ``first`` orders fit one query."""
    per_customer = queries.CUSTOMER_COST + first * order_cost
    return max(1, min(queries.MAX_IDS, queries.PLANNED_COST // per_customer))


def _even_chunks(items: Sequence[str], most: int) -> list[list[str]]:
    """``items`` split into as few chunks of at most ``most`` as possible, of
    near-equal size (110 customers at 50 a call: 37, 37 and 36)."""
    count = math.ceil(len(items) / most)
    size = math.ceil(len(items) / count) if count else 0
    return [list(items[i : i + size]) for i in range(0, len(items), size or 1)]


class OrderWindowReader:
    def __init__(self, query: Query, nodes: Nodes, concurrency: int) -> None:
        self.query = query
        self.nodes = nodes
        self.limit = asyncio.Semaphore(concurrency)

    async def orders(self, sizes: Mapping[str, int]) -> dict[str, OrderWindow[Order]]:
        """Full orders, every part read."""
        found = await self._read(sizes, queries.ORDER_WINDOWS, queries.ORDER_COST)
        await self._complete_parts(_nodes(found))
        return _mapped(found, mapping.order)

    async def summaries(
        self, sizes: Mapping[str, int], *, lines: bool = False
    ) -> dict[str, OrderWindow[OrderSummary]]:
        """Summaries; with ``lines``, with every line item's summary."""
        if not lines:
            found = await self._read(
                sizes, queries.ORDER_SUMMARY_WINDOWS, queries.SUMMARY_COST
            )
            return _mapped(found, mapping.order_summary)
        found = await self._read(
            sizes, queries.ORDER_LINES_WINDOWS, queries.ORDER_LINES_COST
        )
        await self._complete_lines(_nodes(found))
        return _mapped(found, mapping.order_summary)

    async def _read(
        self, sizes: Mapping[str, int], document: str, cost: int
    ) -> dict[str, RawWindow]:
        """The newest ``sizes[gid]`` orders of each customer, read with
        ``document``, whose orders cost ``cost`` points each."""
        per_call = min(
            (queries.PLANNED_COST - queries.CUSTOMER_COST) // cost, queries.MAX_PAGE
        )
        by_size: dict[int, list[str]] = {}
        for gid, size in sizes.items():
            by_size.setdefault(size, []).append(gid)
        found: dict[str, RawWindow] = {}
        reads = []
        for size, gids in by_size.items():
            first = min(size, per_call)
            for chunk in _even_chunks(gids, customers_per_call(first, cost)):
                reads.append(self._chunk(document, chunk, size, first, found))
        await asyncio.gather(*reads)
        return found

    async def _chunk(
        self,
        document: str,
        chunk: list[str],
        size: int,
        first: int,
        found: dict[str, RawWindow],
    ) -> None:
        async with self.limit:
            nodes = await self.nodes(document, chunk, {"first": first, "after": None})
        more = []
        for gid, node in zip(chunk, nodes, strict=True):
            if not node:  # deleted, or not a customer
                found[gid] = RawWindow(size, 0, True)
                continue
            window = RawWindow(size, int(node["numberOfOrders"]), False)
            found[gid] = window
            more.append(self._fill(document, gid, window, node["orders"], first))
        await asyncio.gather(*more)

    async def _fill(
        self, document: str, gid: str, window: RawWindow, page: Json, first: int
    ) -> None:
        """Add ``page`` and the pages after it until the window is full."""
        guard = PageGuard(NAME)
        while True:
            window.nodes.extend(page["nodes"])
            info = page["pageInfo"]
            if not info["hasNextPage"] or not info["endCursor"]:
                window.complete = True
                window.total = len(window.nodes)
                return
            if len(window.nodes) >= window.size:
                del window.nodes[window.size :]
                window.total = max(window.total, window.size)
                return
            variables = {
                "ids": [gid],
                "first": min(first, window.size - len(window.nodes)),
                "after": guard.advance(info["endCursor"]),
            }
            async with self.limit:
                data = await self.query(document, variables)
            node = data["nodes"][0]
            if not node:
                raise UpstreamBadResponse(NAME, "customer vanished while paging")
            page = node["orders"]

    async def _complete_parts(self, nodes: list[Json]) -> None:
        """Re-read the parts of orders that had more than fit inline."""
        pending = [n for n in nodes if _overflows(n, queries.INLINE_REFUNDS)]
        await self._details(pending, queries.ORDER_DETAILS, queries.DETAILS_PER_CALL)
        await asyncio.gather(
            *(self._rest(n) for n in pending if _overflows(n, queries.DETAIL_REFUNDS))
        )

    async def _complete_lines(self, nodes: list[Json]) -> None:
        """Re-read the line items of orders that had more than fit inline."""
        pending = [n for n in nodes if _more_lines(n)]
        await self._details(
            pending, queries.ORDER_LINE_DETAILS, queries.LINE_DETAILS_PER_CALL
        )
        await asyncio.gather(
            *(
                self._page_on(n, "lineItems", queries.ORDER_LINE_SUMMARIES)
                for n in pending
                if _more_lines(n)
            )
        )

    async def _details(self, pending: list[Json], document: str, per_call: int) -> None:
        """Replace the parts of the ``pending`` orders by those ``document``
        reads, ``per_call`` orders a ``nodes(ids:)`` call, concurrently."""
        by_id = {n["id"]: n for n in pending}

        async def details(chunk: list[str]) -> None:
            async with self.limit:
                found = await self.nodes(document, chunk, {})
            for gid, fresh in zip(chunk, found, strict=True):
                if not fresh:
                    raise UpstreamBadResponse(NAME, "order vanished while reading")
                for part in ("lineItems", "refunds", "returns"):
                    if part in fresh:
                        by_id[gid][part] = fresh[part]

        chunks = _even_chunks(list(by_id), per_call)
        await asyncio.gather(*(details(chunk) for chunk in chunks))

    async def _rest(self, order: Json) -> None:
        """Page an order's line items and returns to the end; all its refunds."""
        await self._page_on(order, "lineItems", queries.ORDER_LINE_ITEMS)
        if "returns" in order:  # else not asked: a missing access scope
            await self._page_on(order, "returns", queries.ORDER_RETURNS)
        if len(order["refunds"]) >= queries.DETAIL_REFUNDS:
            refunds = (await self._order(queries.ORDER_REFUNDS, order["id"]))["refunds"]
            if len(refunds) >= queries.MAX_REFUNDS:
                raise UpstreamBadResponse(NAME, "order has too many refunds to read")
            order["refunds"] = refunds

    async def _page_on(self, order: Json, part: str, document: str) -> None:
        """Page the order's connection ``part`` to its end with ``document``."""
        connection = order[part]
        guard = PageGuard(NAME)
        while connection["pageInfo"]["hasNextPage"]:
            after = guard.advance(connection["pageInfo"]["endCursor"])
            page = (await self._order(document, order["id"], after))[part]
            connection["nodes"] = connection["nodes"] + page["nodes"]
            connection["pageInfo"] = page["pageInfo"]

    async def _order(self, document: str, gid: str, after: str | None = None) -> Json:
        variables: Json = {"id": gid}
        if after is not None:
            variables["after"] = after
        async with self.limit:
            found = (await self.query(document, variables))["order"]
        if not found:
            raise UpstreamBadResponse(NAME, "order vanished while reading")
        result: Json = found
        return result


def _nodes(found: Mapping[str, RawWindow]) -> list[Json]:
    """The order nodes of every window."""
    return [n for window in found.values() for n in window.nodes]


def _more_lines(order: Json) -> bool:
    """Whether an order has line items beyond those read."""
    return bool(order["lineItems"]["pageInfo"]["hasNextPage"])


def _overflows(order: Json, refunds_read: int) -> bool:
    """Whether an order has parts beyond those read (a refund list as long as
    asked for may have more)."""
    returns = order.get("returns") or {"pageInfo": {"hasNextPage": False}}
    return (
        order["lineItems"]["pageInfo"]["hasNextPage"]
        or returns["pageInfo"]["hasNextPage"]
        or len(order["refunds"]) >= refunds_read
    )
