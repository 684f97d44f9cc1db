"""Per-request DataLoaders: every field reads through one of these.

Each loader is named after what it loads and by what (``AddressesByCustomerLoader``),
does one query or upstream call per batch and returns results aligned with its
keys (``None`` or ``[]`` for a missing key, never an exception). ``Loaders``
builds a fresh set for every request, so nothing leaks between callers.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.posthog.client import PostHogConnector
from connectors.shopify.client import ShopifyConnector
from connectors.zendesk.client import ZendeskConnector
from gateway.loaders.crm import (
    BY_CUSTOMER_ID,
    AddressesByCustomerLoader,
    ConsentsByCustomerLoader,
    CustomerByEmailLoader,
    CustomerByIdLoader,
    CustomerCountLoader,
    CustomerPageLoader,
    IdentitiesByCustomerLoader,
    LoyaltyBalanceByCustomerLoader,
    NoteByIdLoader,
    NotesPageByCustomerLoader,
    NotesPageKey,
    PreferencesByCustomerLoader,
    SessionLoader,
    TagsByCustomerLoader,
)
from gateway.loaders.upstream import (
    CheckoutsByShopifyCustomerLoader,
    CommentsByTicketLoader,
    EventsByDistinctIdLoader,
    ExternalIdByCustomerLoader,
    LastSeenByDistinctIdLoader,
    OrdersByShopifyCustomerLoader,
    SessionsCountByDistinctIdLoader,
    ShopifyCustomerByIdLoader,
    TicketsByZendeskUserLoader,
)
from gateway.upstreams import Upstreams

Sessions = async_sessionmaker[AsyncSession]

__all__ = [
    "Loaders",
    "NotesPageKey",
    "PostHogLoaders",
    "ShopifyLoaders",
    "ZendeskLoaders",
]


class ShopifyLoaders:
    def __init__(self, sessions: Sessions, connector: ShopifyConnector) -> None:
        self.id_by_customer = ExternalIdByCustomerLoader(sessions, connector)
        self.customer_by_id = ShopifyCustomerByIdLoader(connector)
        self.orders_by_customer = OrdersByShopifyCustomerLoader(connector)
        self.checkouts_by_customer = CheckoutsByShopifyCustomerLoader(connector)


class ZendeskLoaders:
    def __init__(self, sessions: Sessions, connector: ZendeskConnector) -> None:
        self.id_by_customer = ExternalIdByCustomerLoader(sessions, connector)
        self.tickets_by_user = TicketsByZendeskUserLoader(connector)
        self.comments_by_ticket = CommentsByTicketLoader(connector)


class PostHogLoaders:
    def __init__(self, sessions: Sessions, connector: PostHogConnector) -> None:
        self.id_by_customer = ExternalIdByCustomerLoader(sessions, connector)
        self.events_by_person = EventsByDistinctIdLoader(connector)
        self.last_seen_by_person = LastSeenByDistinctIdLoader(connector)
        self.sessions_count_by_person = SessionsCountByDistinctIdLoader(connector)


class UpstreamLoaders:
    """Loaders per configured upstream; ``None`` where one is not configured."""

    def __init__(self, sessions: Sessions, upstreams: Upstreams) -> None:
        self.shopify = (
            ShopifyLoaders(sessions, upstreams.shopify) if upstreams.shopify else None
        )
        self.zendesk = (
            ZendeskLoaders(sessions, upstreams.zendesk) if upstreams.zendesk else None
        )
        self.posthog = (
            PostHogLoaders(sessions, upstreams.posthog) if upstreams.posthog else None
        )


class Loaders:
    """The loaders of one request."""

    def __init__(self, sessions: Sessions, upstreams: Upstreams | None = None) -> None:
        self.customer_by_id = CustomerByIdLoader(sessions)
        self.customer_by_email = CustomerByEmailLoader(sessions)
        self.customer_page = CustomerPageLoader(sessions)
        self.customer_count = CustomerCountLoader(sessions)
        self.note_by_id = NoteByIdLoader(sessions)
        self.addresses_by_customer = AddressesByCustomerLoader(sessions)
        self.identities_by_customer = IdentitiesByCustomerLoader(sessions)
        self.tags_by_customer = TagsByCustomerLoader(sessions)
        self.consents_by_customer = ConsentsByCustomerLoader(sessions)
        self.preferences_by_customer = PreferencesByCustomerLoader(sessions)
        self.loyalty_balance_by_customer = LoyaltyBalanceByCustomerLoader(sessions)
        self.notes_page_by_customer = NotesPageByCustomerLoader(sessions)
        self.upstream = UpstreamLoaders(sessions, upstreams or Upstreams())

    def forget_customer(self, customer_id: int) -> None:
        """Drop what this request cached about a customer after a write.

        Loaders keyed by customer id forget that key; those keyed otherwise
        (pages, counts, emails) forget everything, which is cheap within a request.
        """
        for loader in vars(self).values():
            if isinstance(loader, BY_CUSTOMER_ID):
                loader.clear(customer_id)
            elif isinstance(loader, SessionLoader):
                loader.clear_all()
