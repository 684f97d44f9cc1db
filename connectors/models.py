"""Canonical models: the only shapes that cross from a connector into the gateway.

Every upstream speaks its own dialect (Shopify gids and unpadded decimal strings,
Zendesk integer ids, PostHog UUIDs and microsecond timestamps). A connector's
``mapping.py`` turns that dialect into these frozen dataclasses, so the gateway
never sees upstream JSON. Money is ``Decimal`` plus an ISO currency code; every
``datetime`` is timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

CURRENCY_DIGITS: dict[str, int] = {
    **dict.fromkeys((
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
        "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    ), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip
"""ISO 4217 minor units of the currencies that do not have two."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def fixed(self) -> Decimal:
        """The amount with its currency's number of digits (ISO 4217):
        ``12.50`` USD, ``1200`` JPY, ``1.250`` KWD, as the API shows it."""
        digits = CURRENCY_DIGITS.get(self.currency.upper(), 2)
        return self.amount.quantize(Decimal(1).scaleb(-digits))

    def __str__(self) -> str:
        """``46.00 USD``: how a sentence for people writes it (a timeline
        item's summary)."""
        return f"{self.fixed()} {self.currency}"


@dataclass(frozen=True, slots=True)
class ExternalCustomer:
    """A customer record as an upstream knows it (Shopify customer, Zendesk user,
    PostHog person)."""

    source: str
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None = None
    last_name: str | None = None
    created_at: datetime | None = None
    amount_spent: Money | None = None
    number_of_orders: int | None = None
    tags: tuple[str, ...] = ()
    properties: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EmailList:
    """A list of an email tool (a Klaviyo list) that customers are subscribed to."""

    id: str
    name: str
    double_opt_in: bool
    """Subscribers confirm by email before they are on the list."""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EmailOptOut:
    """An email tool's word that an address may no longer get marketing email:
    its owner unsubscribed, or the tool suppressed it (a bounce, a spam
    complaint)."""

    email: str
    """Lower-case."""
    reason: str
    """The tool's own: Klaviyo's ``UNSUBSCRIBE``, ``HARD_BOUNCE``,
    ``SPAM_COMPLAINT``, ``USER_SUPPRESSED``, ``INVALID_EMAIL``."""
    at: datetime
    """When the tool recorded it (UTC)."""


@dataclass(frozen=True, slots=True)
class LineItem:
    id: str
    title: str | None
    """``None`` when the upstream has none (a Shopify abandoned checkout's line
    may lack one)."""
    quantity: int
    unit_price: Money
    total: Money
    sku: str | None = None
    variant_title: str | None = None
    product_id: str | None = None
    category: str | None = None
    """Shopify's ``productType``; ``None`` when the product was deleted."""
    vendor: str | None = None
    unavailable: frozenset[str] = frozenset()
    """Fields above the upstream did not give (a missing access scope), so
    their ``None`` means "not readable", not "none"."""


@dataclass(frozen=True, slots=True)
class LineSummary:
    """A line item without its total (the line's price after its discounts)
    or its product's id: what a list of orders showing what was bought reads,
    for 4 of a line item's 6 query-cost points and 12 of its 17 fields."""

    id: str
    title: str | None
    quantity: int
    unit_price: Money
    sku: str | None = None
    variant_title: str | None = None
    category: str | None = None
    vendor: str | None = None
    unavailable: frozenset[str] = frozenset()
    """As ``LineItem.unavailable``."""


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    order_id: str
    created_at: datetime | None
    """``None`` when the upstream does not say (Shopify's ``Refund.createdAt``
    is nullable)."""
    total: Money
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Return:
    id: str
    order_id: str
    name: str
    status: str
    created_at: datetime | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """An order without its subtotal, refunded amount, refunds and returns,
    and with its line items only as ``LineSummary`` when asked: what a list
    of orders shows, read for a fraction of a full order's query cost."""

    id: str
    customer_id: str | None
    name: str
    created_at: datetime
    processed_at: datetime
    total: Money
    financial_status: str | None
    fulfillment_status: str
    cancelled_at: datetime | None = None
    line_items: tuple[LineSummary, ...] | None = None
    """``None`` when not read (a summary shows none); read when a list shows
    what was bought but no order amounts, line totals, refunds or returns."""


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    customer_id: str | None
    name: str
    created_at: datetime
    processed_at: datetime
    total: Money
    subtotal: Money
    total_refunded: Money
    financial_status: str | None
    fulfillment_status: str
    cancelled_at: datetime | None = None
    line_items: tuple[LineItem, ...] = ()
    refunds: tuple[Refund, ...] = ()
    returns: tuple[Return, ...] = ()
    unavailable: frozenset[str] = frozenset()
    """Fields above the upstream did not give (a missing access scope, e.g.
    ``returns``), so their emptiness means "not readable", not "none"."""


OrderT = TypeVar("OrderT", Order, OrderSummary)


@dataclass(frozen=True, slots=True)
class OrderWindow(Generic[OrderT]):
    """A customer's newest ``size`` orders (or summaries), newest first.

    ``orders`` holds ``size`` orders unless ``complete``, when it holds every
    order the upstream shows (fewer than ``size``). ``total`` is the customer's
    order count as the upstream keeps it, which may include orders it no
    longer shows (Shopify's 60-day window); a complete window counts what it
    holds instead.
    """

    size: int
    total: int
    complete: bool
    orders: tuple[OrderT, ...] = ()

    def covers(self, size: int) -> bool:
        """Whether this window answers a request for the newest ``size``."""
        return self.complete or self.size >= size


@dataclass(frozen=True, slots=True)
class Checkout:
    """An abandoned checkout (cart); ``completed_at`` is set once recovered."""

    id: str
    customer_id: str | None
    created_at: datetime
    total: Money
    url: str | None = None
    completed_at: datetime | None = None
    line_items: tuple[LineItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Collection:
    """A group of the store's products (a Shopify collection): what a discount
    can be limited to, e.g. every product of a category."""

    id: str
    title: str
    handle: str
    products_count: int | None = None


@dataclass(frozen=True, slots=True)
class NewDiscountCode:
    """A percentage-off code to create: for ``customer_ids`` only, on the
    products of ``collection_ids`` or ``product_ids``, from ``starts_at`` to
    ``ends_at``. ``percentage`` is a share, 0 < p ≤ 1 (0.2 for 20 %)."""

    title: str
    code: str
    percentage: Decimal
    customer_ids: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime | None
    collection_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()
    usage_limit: int | None = 1
    once_per_customer: bool = True
    combines_with_shipping: bool = True
    """Whether a free-shipping code may be used beside it."""


@dataclass(frozen=True, slots=True)
class DiscountCode:
    """A code discount as the store holds it (Shopify ``DiscountCodeNode``)."""

    id: str
    code: str
    title: str
    status: str
    """``ACTIVE``, ``SCHEDULED`` or ``EXPIRED`` (Shopify's ``DiscountStatus``)."""
    percentage: Decimal | None
    starts_at: datetime
    ends_at: datetime | None
    usage_limit: int | None
    customer_ids: tuple[str, ...]
    collection_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()

    def grants(self, wanted: NewDiscountCode) -> bool:
        """Whether this discount is the one ``wanted`` describes: the same
        code, customers, share and items (what a retried create finds)."""
        return (
            self.code.casefold() == wanted.code.casefold()
            and set(self.customer_ids) == set(wanted.customer_ids)
            and self.percentage == wanted.percentage
            and set(self.collection_ids) == set(wanted.collection_ids)
            and set(self.product_ids) == set(wanted.product_ids)
        )


@dataclass(frozen=True, slots=True)
class SatisfactionRating:
    id: str
    ticket_id: str
    score: str
    """``good``, ``bad``, ``offered`` or ``unoffered``."""
    created_at: datetime | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TicketComment:
    id: str
    ticket_id: str
    author_id: str | None
    body: str
    public: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    requester_id: str
    subject: str
    status: str
    created_at: datetime
    updated_at: datetime
    priority: str | None = None
    type: str | None = None
    channel: str | None = None
    tags: tuple[str, ...] = ()
    satisfaction: SatisfactionRating | None = None


class ActivityKind(enum.StrEnum):
    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    ADD_TO_CART = "add_to_cart"
    SEARCH = "search"
    IDENTIFY = "identify"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    id: str
    distinct_id: str
    kind: ActivityKind
    name: str
    occurred_at: datetime
    url: str | None = None
    path: str | None = None
    session_id: str | None = None
    properties: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """What an analytics tool sums up about a person: when they were last seen
    (any event, ever) and how many sessions they had in the recent window."""

    last_seen: datetime | None = None
    sessions: int = 0


@dataclass(frozen=True, slots=True)
class PersonActivity:
    """A person's newest events with their summary, read together."""

    events: tuple[ActivityEvent, ...] = ()
    """Newest first."""
    summary: PersonSummary = PersonSummary()


@dataclass(frozen=True, slots=True)
class ActivityWindow:
    """A person's newest ``size`` events with their summary.

    ``activity.events`` holds ``size`` events unless ``complete``, when it
    holds every event there is to show (fewer than ``size``, or as many as
    the gateway ever reads): an incomplete window knows only that more exist.
    """

    size: int
    complete: bool
    activity: PersonActivity = PersonActivity()


@dataclass(frozen=True, slots=True)
class UpstreamChange:
    """A verified webhook delivery, reduced to what invalidation needs: which
    customer changed, and ids to drop duplicate deliveries by."""

    source: str
    topic: str
    """The upstream's own event name (``orders/create``, ``ticket.created``)."""
    customer_external_id: str | None
    delivery_id: str | None
    """Id of this delivery attempt (a retry may get a new one)."""
    event_id: str | None
    """Id of the underlying event: equal across duplicate deliveries."""
    payload: Mapping[str, object] = field(default_factory=dict)
    order: Order | None = None
    """The order as the payload describes it, when the topic carries one."""
    customer: ExternalCustomer | None = None
    """The customer as the payload describes it, when the topic carries one."""
