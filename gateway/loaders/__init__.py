"""Per-request DataLoaders: every field reads through one of these.

Each loader is named after what it loads and by what (``TasksPageByCustomerLoader``),
does one query or upstream call per batch and returns results aligned with its
keys (``None`` or ``[]`` for a missing key, never an exception). ``Loaders``
builds a fresh set for every request, so nothing leaks between callers.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from gateway.db.shared_session import SharedSession
from gateway.loaders.analytics import PostHogLoaders
from gateway.loaders.crm import (
    BY_CUSTOMER_ID,
    ConsentsNowByCustomerLoader,
    CustomerByEmailLoader,
    CustomerByIdLoader,
    CustomerCountLoader,
    CustomerCreatedLoader,
    CustomerPageLoader,
    IdentitiesByCustomerLoader,
    NoteByIdLoader,
    NotesPageByCustomerLoader,
    NotesPageKey,
    PreferencesByCustomerLoader,
    Profile,
    ProfileByCustomerLoader,
    SessionLoader,
)
from gateway.loaders.insights import (
    ReplenishmentByCustomerLoader,
    RfmByCustomerLoader,
    TraitsByCustomerLoader,
)
from gateway.loaders.promotions import PromoCodesByCustomerLoader
from gateway.loaders.sources import (
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
    from gateway.runtime.services import Services

__all__ = [
    "Loaders",
    "NotesPageKey",
    "Profile",
    "PostHogLoaders",
    "ShopifyLoaders",
    "TasksPageKey",
    "WindowKey",
    "ZendeskLoaders",
]


class Loaders:
    """The loaders of one request, each made on first use: a request answered
    from the response cache, or one asking for two fields, builds few of them."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.sessions = SharedSession(services.burst_reads)
        self.list_reads = SharedSession(services.reads)
        """Lists and counts, which may come from the read replica."""

    @cached_property
    def customer_by_id(self) -> CustomerByIdLoader:
        return CustomerByIdLoader(self.sessions)

    @cached_property
    def customer_created(self) -> CustomerCreatedLoader:
        return CustomerCreatedLoader(self.sessions)

    @cached_property
    def customer_by_email(self) -> CustomerByEmailLoader:
        return CustomerByEmailLoader(self.sessions)

    @cached_property
    def customer_page(self) -> CustomerPageLoader:
        return CustomerPageLoader(self.list_reads)

    @cached_property
    def customer_count(self) -> CustomerCountLoader:
        return CustomerCountLoader(self.list_reads)

    @cached_property
    def note_by_id(self) -> NoteByIdLoader:
        return NoteByIdLoader(self.sessions)

    @cached_property
    def identities_by_customer(self) -> SessionLoader:
        return IdentitiesByCustomerLoader(self.sessions)

    @cached_property
    def profile_by_customer(self) -> ProfileByCustomerLoader:
        return ProfileByCustomerLoader(self.sessions)

    @cached_property
    def consents_now_by_customer(self) -> SessionLoader:
        return ConsentsNowByCustomerLoader(self.sessions)

    @cached_property
    def preferences_by_customer(self) -> SessionLoader:
        return PreferencesByCustomerLoader(self.sessions)

    @cached_property
    def notes_page_by_customer(self) -> NotesPageByCustomerLoader:
        return NotesPageByCustomerLoader(self.sessions)

    @cached_property
    def traits_by_customer(self) -> TraitsByCustomerLoader:
        return TraitsByCustomerLoader(self.sessions)

    @cached_property
    def rfm_by_customer(self) -> RfmByCustomerLoader:
        return RfmByCustomerLoader(self.sessions)

    @cached_property
    def replenishment_by_customer(self) -> ReplenishmentByCustomerLoader:
        return ReplenishmentByCustomerLoader(self.sessions)

    @cached_property
    def promo_codes_by_customer(self) -> PromoCodesByCustomerLoader:
        return PromoCodesByCustomerLoader(self.sessions)

    @cached_property
    def customer_events_by_window(self) -> CustomerEventsByWindowLoader:
        return CustomerEventsByWindowLoader(self.sessions)

    @cached_property
    def tracked_events_by_window(self) -> TrackedEventsByWindowLoader:
        return TrackedEventsByWindowLoader(self.sessions)

    @cached_property
    def task_by_id(self) -> TaskByIdLoader:
        return TaskByIdLoader(self.sessions)

    @cached_property
    def tasks_page_by_customer(self) -> TasksPageByCustomerLoader:
        return TasksPageByCustomerLoader(self.sessions)

    @cached_property
    def upstream(self) -> UpstreamLoaders:
        return UpstreamLoaders(self.services, self.sessions)

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
