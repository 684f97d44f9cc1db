"""The cached namespaces of upstream data, one ``ReadThrough`` each, and which
of them hold a given customer's data (for invalidation)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from connectors.models import (
    ActivityWindow,
    Checkout,
    ExternalCustomer,
    Order,
    OrderSummary,
    OrderWindow,
    PersonSummary,
    Ticket,
    TicketComment,
)
from gateway.cache.backends import CacheBackend
from gateway.cache.read_through import ReadThrough
from gateway.settings import Settings
from gateway.shared_redis.pseudonyms import Pseudonyms

SOURCES = ("shopify", "zendesk", "posthog")


@dataclass(slots=True)
class UpstreamCaches:
    backend: CacheBackend
    shopify_customer: ReadThrough[ExternalCustomer | None]
    shopify_order_windows: ReadThrough[OrderWindow[Order]]
    """Per customer gid: the newest orders some query needed, with all parts."""
    shopify_order_summaries: ReadThrough[OrderWindow[OrderSummary]]
    """Per customer gid: the newest orders as summaries (lists that show no
    line items, refunds or returns)."""
    shopify_order_lines: ReadThrough[OrderWindow[OrderSummary]]
    """Per customer gid: the newest orders as summaries with their line items'
    summaries (lists that show what was bought, but no amounts beyond the
    total, line totals, refunds or returns)."""
    shopify_checkouts: ReadThrough[list[Checkout]]
    zendesk_tickets: ReadThrough[list[Ticket]]
    zendesk_comments: ReadThrough[list[TicketComment]]
    posthog_activity: ReadThrough[ActivityWindow]
    posthog_summary: ReadThrough[PersonSummary]
    links: ReadThrough[str]
    """``<source>:<customer id>`` → external id, ``""`` when upstream has no
    match (links themselves live in ``identities``; this spares reading them).
    One namespace for every source, so a customer's links are one read."""

    def by_external_id(self, source: str) -> list[ReadThrough[Any]]:
        """The namespaces keyed by a ``source`` external id."""
        namespaces: dict[str, list[ReadThrough[Any]]] = {
            "shopify": [
                self.shopify_customer,
                self.shopify_order_windows,
                self.shopify_order_summaries,
                self.shopify_order_lines,
                self.shopify_checkouts,
            ],
            "zendesk": [self.zendesk_tickets],
            "posthog": [self.posthog_activity, self.posthog_summary],
        }
        return namespaces[source]

    async def aclose(self) -> None:
        await self.backend.aclose()


def link_key(source: str, customer_id: int) -> str:
    """The key of a customer's link to ``source`` in ``UpstreamCaches.links``."""
    return f"{source}:{customer_id}"


@functools.cache
def adapter(stored: Any) -> TypeAdapter[Any]:
    """One adapter per stored type and process: building one, and the JSON
    schema its namespace's version hashes, costs milliseconds, and each
    ``open_services`` builds every namespace."""
    return TypeAdapter(stored)


def build_caches(backend: CacheBackend, settings: Settings) -> UpstreamCaches:
    """Every namespace; each upstream's with its TTL and the staleness its
    last good values may be served with (links: never stale). Keys are named
    by their pseudonyms: no upstream id (an email, for PostHog) in Redis."""
    shop = settings.cache_ttl_shopify
    desk = settings.cache_ttl_zendesk
    web = settings.cache_ttl_posthog
    pseudonyms = Pseudonyms.of(settings)  # distinct ids are often emails
    max_stale = {
        "shopify": settings.cache_max_stale_shopify,
        "zendesk": settings.cache_max_stale_zendesk,
        "posthog": settings.cache_max_stale_posthog,
    }

    def namespace(name: str, stored: Any, ttl: float) -> ReadThrough[Any]:
        return ReadThrough(
            backend,
            name,
            adapter(stored),
            ttl,
            max_stale=max_stale.get(name.split(".")[0], 0.0),
            prefix=settings.cache_prefix,
            pseudonyms=pseudonyms,
        )

    return UpstreamCaches(
        backend=backend,
        shopify_customer=namespace("shopify.customer", ExternalCustomer | None, shop),
        shopify_order_windows=namespace(
            "shopify.order_windows", OrderWindow[Order], shop
        ),
        shopify_order_summaries=namespace(
            "shopify.order_summaries", OrderWindow[OrderSummary], shop
        ),
        shopify_order_lines=namespace(
            "shopify.order_lines", OrderWindow[OrderSummary], shop
        ),
        shopify_checkouts=namespace("shopify.checkouts", list[Checkout], shop),
        zendesk_tickets=namespace("zendesk.tickets", list[Ticket], desk),
        zendesk_comments=namespace("zendesk.comments", list[TicketComment], desk),
        posthog_activity=namespace("posthog.activity", ActivityWindow, web),
        posthog_summary=namespace("posthog.summary", PersonSummary, web),
        links=namespace("links", str, settings.cache_ttl_links),
    )
