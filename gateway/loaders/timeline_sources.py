"""The event producers: each reads one source for one customer and one window.

Upstream sources read the customer's cached lists through the existing loaders
(the same calls whatever the page) and cut them to the window; local sources
run one keyset query through their window loaders. Every producer returns at
most ``window.limit`` items in page order, ``[]`` when the source is not
configured or does not know the customer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

from connectors.models import Order, TicketComment
from gateway.loaders import Loaders, WindowKey
from gateway.loaders.analytics import ACTIVITY_LIMIT
from gateway.timeline.items import Kind, Source, TimelineItem, Window
from gateway.timeline.mapping import (
    crm_item,
    ingest_item,
    posthog_items,
    shopify_items,
    zendesk_items,
)
from gateway.timeline.merge import take

Producer = Callable[[Loaders, int, Window], Awaitable[list[TimelineItem]]]


async def shopify(
    loaders: Loaders, customer_id: int, window: Window
) -> list[TimelineItem]:
    shop = loaders.upstream.shopify
    if shop is None:
        return []
    wants_checkouts = not window.kinds or Kind.CHECKOUT_ABANDONED in window.kinds
    wants_orders = not window.kinds or bool(window.kinds - {Kind.CHECKOUT_ABANDONED})
    history, checkouts = await asyncio.gather(
        shop.history.load(customer_id) if wants_orders else _nothing(),
        shop.checkouts.load(customer_id) if wants_checkouts else _nothing(),
    )
    orders: Sequence[Order] = history.orders if history else ()
    return take(shopify_items(orders, checkouts or []), window)


async def _nothing() -> None:
    return None


async def zendesk(
    loaders: Loaders, customer_id: int, window: Window
) -> list[TimelineItem]:
    desk = loaders.upstream.zendesk
    tickets = await desk.tickets.load(customer_id) if desk else None
    if desk is None or tickets is None:
        return []
    comments: Mapping[str, list[TicketComment]] = {}
    if tickets and (not window.kinds or Kind.TICKET_COMMENTED in window.kinds):
        lists = await desk.comments_by_ticket.load_many([t.id for t in tickets])
        comments = dict(zip([t.id for t in tickets], lists, strict=True))
    return take(zendesk_items(tickets, comments), window)


async def posthog(
    loaders: Loaders, customer_id: int, window: Window
) -> list[TimelineItem]:
    analytics = loaders.upstream.posthog
    found = (
        await analytics.activity.load(customer_id, ACTIVITY_LIMIT)
        if analytics
        else None
    )
    return take(posthog_items(found.activity.events), window) if found else []


async def ingest(
    loaders: Loaders, customer_id: int, window: Window
) -> list[TimelineItem]:
    rows = await loaders.tracked_events_by_window.load(WindowKey(customer_id, window))
    return [ingest_item(row) for row in rows]


async def crm(loaders: Loaders, customer_id: int, window: Window) -> list[TimelineItem]:
    rows = await loaders.customer_events_by_window.load(WindowKey(customer_id, window))
    return [crm_item(row) for row in rows]


PRODUCERS: Mapping[Source, Producer] = {
    Source.SHOPIFY: shopify,
    Source.ZENDESK: zendesk,
    Source.POSTHOG: posthog,
    Source.INGEST: ingest,
    Source.CRM: crm,
}
