"""The loaders of each configured upstream, grouped per source (PostHog's,
which read the local event mirror first, in ``gateway.loaders.analytics``).

With ``CG_LOADERS_ENABLED=false`` every loader asks for one key at a time, and
with ``CG_CACHE_ENABLED=false`` nothing is cached: both exist to measure what
batching and caching save (``bench/``), not for production.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.base import Connector
from connectors.models import (
    Checkout,
    ExternalCustomer,
    Order,
    OrderT,
    OrderWindow,
    Ticket,
    TicketComment,
)
from connectors.shopify.client import ShopifyConnector
from connectors.zendesk.client import ZendeskConnector
from gateway.db import ticket_changes
from gateway.db.models import utcnow
from gateway.db.shared_session import SharedSession
from gateway.identity.links import Mark
from gateway.loaders import combine
from gateway.loaders.analytics import PostHogLoaders
from gateway.loaders.upstream import (
    ByCustomer,
    CachedLoader,
    ExternalIdByCustomerLoader,
    SourceLinks,
)
from gateway.loaders.windows import NewestKey, WindowFetch, WindowLoader
from gateway.mirror import reads

if TYPE_CHECKING:
    from gateway.runtime.services import Services

V = TypeVar("V")


def _cache(services: Services, name: str) -> Any:
    caches = services.caches
    return getattr(caches, name) if caches is not None else None


def _loader(
    services: Services,
    name: str,
    fetch: Callable[[Sequence[str]], Awaitable[Mapping[str, V]]],
    default: V,
) -> CachedLoader[V]:
    return CachedLoader(
        name,
        _cache(services, name),
        fetch,
        default,
        batch=services.settings.loaders_enabled,
    )


def _order_windows(
    services: Services, name: str, fetch: WindowFetch[OrderWindow[OrderT]]
) -> WindowLoader[OrderWindow[OrderT]]:
    return WindowLoader(
        name,
        _cache(services, name),
        fetch,
        OrderWindow(0, 0, True),
        batch=services.settings.loaders_enabled,
    )


def _pages(
    windows: WindowLoader[OrderWindow[OrderT]],
) -> Callable[[str, int], Awaitable[OrderWindow[OrderT]]]:
    """A page's window of the customer's newest ``size`` orders: a smaller
    last good one while Shopify fails (the page shows what it holds)."""
    return lambda external_id, size: windows.load(NewestKey(external_id, size, True))


def _history(
    windows: WindowLoader[OrderWindow[Order]], size: int
) -> Callable[[str], Awaitable[OrderWindow[Order]]]:
    """The newest ``CG_SHOPIFY_ORDER_HISTORY`` orders, which the timeline
    and ``returns`` show: never a smaller last good window (Shopify failing),
    which would lack the older orders with no sign but the stale note."""
    return lambda external_id: windows.load(NewestKey(external_id, size))


class ShopifyLoaders:
    def __init__(
        self, services: Services, shopify: ShopifyConnector, links: SourceLinks
    ) -> None:
        async def customers(ids: Sequence[str]) -> dict[str, ExternalCustomer | None]:
            return dict(zip(ids, await shopify.customers_by_ids(ids), strict=True))

        self.customer_by_id = _loader(services, "shopify_customer", customers, None)
        self.order_window_by_customer = _order_windows(
            services, "shopify_order_windows", shopify.order_windows
        )
        self.order_summaries_by_customer = _order_windows(
            services, "shopify_order_summaries", shopify.order_summary_windows
        )
        self.order_lines_by_customer = _order_windows(
            services, "shopify_order_lines", shopify.order_lines_windows
        )
        self.history_size = services.settings.shopify_order_history
        self.checkouts_by_customer: CachedLoader[list[Checkout]] = _loader(
            services, "shopify_checkouts", shopify.abandoned_checkouts_by_customers, []
        )
        # by our customer id
        self.customer = ByCustomer(links, self.customer_by_id.load)
        self.checkouts = ByCustomer(
            links, self.checkouts_by_customer.load, combine.checkouts
        )
        # functions of the loaders, not methods of self: a ByCustomer holding
        # a bound method of its owner makes a reference cycle, and every value
        # the request's loaders hold waits for the garbage collector
        self.history = ByCustomer(
            links,
            _history(self.order_window_by_customer, self.history_size),
            combine.order_windows,
        )
        self.order_window = ByCustomer(
            links, _pages(self.order_window_by_customer), combine.order_windows
        )
        self.order_summaries = ByCustomer(
            links, _pages(self.order_summaries_by_customer), combine.order_windows
        )
        self.order_lines = ByCustomer(
            links, _pages(self.order_lines_by_customer), combine.order_windows
        )
        """Summaries with their line items' summaries."""


class ZendeskLoaders:
    def __init__(
        self,
        services: Services,
        zendesk: ZendeskConnector,
        links: SourceLinks,
        sessions: SharedSession,
    ) -> None:
        lag = timedelta(seconds=services.settings.zendesk_search_lag)

        async def tickets(user_ids: Sequence[str]) -> dict[str, list[Ticket]]:
            """Search for the batch, past it for tickets webhooks announced
            within the index's lag (``gateway.db.ticket_changes``), read from
            the database, in the request's session, while the search is under
            way; not read when the customers' links said none was
            (``zendesk_changes``)."""
            if not lag or all(links.marked(u) is False for u in user_ids):
                return await zendesk.tickets_by_requesters(user_ids)
            changed = ticket_changes.tickets_changed_since(
                sessions, user_ids, utcnow() - lag
            )
            return await zendesk.tickets_by_requesters(user_ids, changed=changed)

        self.tickets_by_user: CachedLoader[list[Ticket]] = _loader(
            services, "zendesk_tickets", tickets, []
        )
        self.comments_by_ticket: CachedLoader[list[TicketComment]] = _loader(
            services, "zendesk_comments", zendesk.comments_by_tickets, []
        )
        self.tickets = ByCustomer(links, self.tickets_by_user.load, combine.tickets)
        """By our customer id: the tickets the customer requested."""


MIRROR_ANSWERS = Mark(reads.answers_for, lambda: reads.checked_since(utcnow()))
"""Whether PostHog's mirror answers for a linked person."""


@functools.cache
def zendesk_changes(lag: float) -> Mark:
    """Whether a webhook announced a ticket of a linked Zendesk user within
    the search index's ``lag`` (``gateway.db.ticket_changes``). One mark per
    lag: the links' statement is built once per set of marks."""
    within = timedelta(seconds=lag)
    return Mark(
        ticket_changes.changed_lately,
        lambda: ticket_changes.since(utcnow(), within),
    )


class UpstreamLoaders:
    """Loaders per configured upstream; ``None`` where one is not configured.
    Their links to our customers are read together, for every source at once."""

    def __init__(self, services: Services, sessions: SharedSession) -> None:
        upstreams = services.upstreams
        connectors: dict[str, Connector] = {
            c.name: c
            for c in (upstreams.shopify, upstreams.zendesk, upstreams.posthog)
            if c is not None
        }
        caches = services.caches
        posthog, zendesk = upstreams.posthog, upstreams.zendesk
        # read with the links: whether PostHog's mirror can answer, whether
        # Zendesk's search may not show a ticket yet
        marks = {posthog.name: MIRROR_ANSWERS} if posthog else {}
        lag = services.settings.zendesk_search_lag
        if zendesk and lag:
            marks[zendesk.name] = zendesk_changes(lag)
        links = ExternalIdByCustomerLoader(
            services.sessions,
            connectors,
            caches.links if caches is not None else None,
            rules=services.match_rules,
            recheck_after=services.settings.cache_ttl_links,
            batch=services.settings.loaders_enabled,
            request_sessions=sessions,
            marks=marks,
        )
        self.links = links
        self.shopify = (
            ShopifyLoaders(
                services, upstreams.shopify, SourceLinks(links, upstreams.shopify.name)
            )
            if upstreams.shopify
            else None
        )
        self.zendesk = (
            ZendeskLoaders(
                services,
                upstreams.zendesk,
                SourceLinks(links, upstreams.zendesk.name),
                sessions,
            )
            if upstreams.zendesk
            else None
        )
        self.posthog = (
            PostHogLoaders(
                services,
                upstreams.posthog,
                SourceLinks(links, upstreams.posthog.name),
                sessions,
            )
            if upstreams.posthog
            else None
        )
