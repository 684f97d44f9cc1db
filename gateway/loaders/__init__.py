"""Per-request DataLoaders: every field reads through one of these.

Each loader is named after what it loads and by what (``AddressesByCustomerLoader``),
does one query or upstream call per batch and returns results aligned with its
keys (``None`` or ``[]`` for a missing key, never an exception). ``Loaders``
builds a fresh set for every request, so nothing leaks between callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from gateway.loaders.insights import RfmByCustomerLoader, TraitsByCustomerLoader
from gateway.loaders.sources import (
    PostHogLoaders,
    ShopifyLoaders,
    UpstreamLoaders,
    ZendeskLoaders,
)
from gateway.loaders.tasks import (
    TaskByIdLoader,
    TasksPageByCustomerLoader,
    TasksPageKey,
)
from gateway.loaders.timeline import (
    CustomerEventsByWindowLoader,
    TrackedEventsByWindowLoader,
    WindowKey,
)

if TYPE_CHECKING:
    from gateway.services import Services

__all__ = [
    "Loaders",
    "NotesPageKey",
    "PostHogLoaders",
    "ShopifyLoaders",
    "TasksPageKey",
    "WindowKey",
    "ZendeskLoaders",
]


class Loaders:
    """The loaders of one request."""

    def __init__(self, services: Services) -> None:
        sessions = services.sessions
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
        self.traits_by_customer = TraitsByCustomerLoader(sessions)
        self.rfm_by_customer = RfmByCustomerLoader(sessions)
        self.customer_events_by_window = CustomerEventsByWindowLoader(sessions)
        self.tracked_events_by_window = TrackedEventsByWindowLoader(sessions)
        self.task_by_id = TaskByIdLoader(sessions)
        self.tasks_page_by_customer = TasksPageByCustomerLoader(sessions)
        self.upstream = UpstreamLoaders(services)

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
