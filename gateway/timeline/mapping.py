"""Upstream models and local rows as timeline items, one function per source.

Summaries are short and human: they are what the embed widget shows on a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from connectors.models import (
    ActivityEvent,
    ActivityKind,
    Checkout,
    Order,
    Ticket,
    TicketComment,
)
from connectors.posthog.mapping import EVENT_NAMES as POSTHOG_EVENT_NAMES
from gateway.db import models
from gateway.timeline.items import Kind, Source, TimelineItem, WebDetail, padded

ACTIVITY_KINDS: Mapping[ActivityKind, Kind] = {
    ActivityKind.PAGE_VIEW: Kind.PAGE_VIEWED,
    ActivityKind.PRODUCT_VIEW: Kind.PRODUCT_VIEWED,
    ActivityKind.ADD_TO_CART: Kind.ADDED_TO_CART,
    ActivityKind.SEARCH: Kind.SEARCHED,
    ActivityKind.CUSTOM: Kind.CUSTOM_EVENT,
}
"""``identify`` is bookkeeping, not something the customer did: left out."""

SEGMENT_EVENTS: Mapping[str, Kind] = {
    "Product Viewed": Kind.PRODUCT_VIEWED,
    "Product Added": Kind.ADDED_TO_CART,
    "Products Searched": Kind.SEARCHED,
}
"""Segment's e-commerce spec names; any other ``track`` is a custom event."""
SEGMENT_TYPES = ("page", "screen", "track")
STANDARD_EVENT_NAMES: frozenset[str] = (
    frozenset(SEGMENT_EVENTS) | frozenset(SEGMENT_TYPES) | POSTHOG_EVENT_NAMES
)
"""Event names the vendors define (``$pageview``, ``Product Viewed``, and a
Segment message's type when it has no name): they quote nothing. Any other name
is the sender's own text (a page's title, a custom event) and may."""


def shopify_items(
    orders: Iterable[Order], checkouts: Iterable[Checkout]
) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for order in orders:
        items.append(
            TimelineItem(
                order.processed_at, Source.SHOPIFY, order.id, Kind.ORDER_PLACED,
                f"Placed order {order.name} ({order.total})", None, order.id, order,
            )
        )  # fmt: skip
        for refund in order.refunds:
            if refund.created_at is None:  # Shopify does not always say when
                continue
            items.append(
                TimelineItem(
                    refund.created_at, Source.SHOPIFY, refund.id, Kind.ORDER_REFUNDED,
                    f"Refunded {refund.total} on order {order.name}", None, refund.id,
                    refund, order,
                )
            )  # fmt: skip
        for ret in order.returns:
            if ret.created_at is not None:
                items.append(
                    TimelineItem(
                        ret.created_at, Source.SHOPIFY, ret.id, Kind.RETURN_REQUESTED,
                        f"Requested return {ret.name} on order {order.name}", None,
                        ret.id, ret, order,
                    )
                )  # fmt: skip
    for checkout in checkouts:
        if checkout.completed_at is None:
            items.append(
                TimelineItem(
                    checkout.created_at, Source.SHOPIFY, checkout.id,
                    Kind.CHECKOUT_ABANDONED,
                    f"Abandoned a checkout ({checkout.total})", None, checkout.id,
                    checkout,
                )
            )  # fmt: skip
    return items


def zendesk_items(
    tickets: Iterable[Ticket], comments: Mapping[str, Sequence[TicketComment]]
) -> list[TimelineItem]:
    """The first comment of a ticket is its description: the ticket stands for it."""
    items: list[TimelineItem] = []
    for ticket in tickets:
        items.append(
            TimelineItem(
                ticket.created_at, Source.ZENDESK, f"ticket:{ticket.id.zfill(20)}",
                Kind.TICKET_OPENED, f"Opened ticket #{ticket.id}: {ticket.subject}",
                None, ticket.id, ticket,
            )
        )  # fmt: skip
        for comment in list(comments.get(ticket.id, ()))[1:]:
            visibility = "Replied" if comment.public else "Internal note"
            items.append(
                TimelineItem(
                    comment.created_at, Source.ZENDESK,
                    f"comment:{comment.id.zfill(20)}", Kind.TICKET_COMMENTED,
                    f"{visibility} on #{ticket.id}: {comment.body[:120]}",
                    comment.author_id, comment.id, comment, ticket,
                )
            )  # fmt: skip
        rating = ticket.satisfaction
        if rating and rating.created_at and rating.score in ("good", "bad"):
            items.append(
                TimelineItem(
                    rating.created_at, Source.ZENDESK, f"rating:{rating.id.zfill(20)}",
                    Kind.SATISFACTION_RATED,
                    f"Rated ticket #{ticket.id} {rating.score}", None, rating.id,
                    rating, ticket,
                )
            )  # fmt: skip
    return items


def posthog_items(events: Iterable[ActivityEvent]) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for event in events:
        kind = ACTIVITY_KINDS.get(event.kind)
        if kind is None:
            continue
        detail = WebDetail(event.name, event.url, event.path, event.properties)
        items.append(
            TimelineItem(
                event.occurred_at, Source.POSTHOG, event.id, kind,
                _web_summary(kind, detail), None, event.id, detail,
            )
        )  # fmt: skip
    return items


def ingest_item(row: models.TrackedEvent) -> TimelineItem:
    if row.type == "track":
        kind = SEGMENT_EVENTS.get(row.name or "", Kind.CUSTOM_EVENT)
    else:
        kind = Kind.PAGE_VIEWED
    props = row.properties or {}
    url, path = props.get("url"), props.get("path")
    detail = WebDetail(
        row.name or row.type,
        url if isinstance(url, str) else None,
        path if isinstance(path, str) else None,
        props,
    )
    return TimelineItem(
        row.occurred_at, Source.INGEST, padded(row.id), kind,
        _web_summary(kind, detail), None, str(row.id), detail,
    )  # fmt: skip


def crm_item(row: models.CustomerEvent) -> TimelineItem:
    return TimelineItem(
        row.occurred_at, Source.CRM, padded(row.id), Kind(row.kind), row.summary,
        row.actor, str(row.id), dict(row.payload or {}),
    )  # fmt: skip


def _web_summary(kind: Kind, detail: WebDetail) -> str:
    props = detail.properties
    where = detail.path or detail.url or detail.name
    if kind is Kind.PAGE_VIEWED:
        return f"Viewed {where}"
    product = props.get("product_name") or props.get("name") or props.get("product")
    if kind is Kind.PRODUCT_VIEWED:
        return f"Viewed product {product or where}"
    if kind is Kind.ADDED_TO_CART:
        return f"Added {product or 'a product'} to the cart"
    if kind is Kind.SEARCHED:
        return f"Searched for “{props.get('query') or props.get('q') or ''}”"
    return f"Event {detail.name}"
