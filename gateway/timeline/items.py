"""What the timeline is made of: kinds, sources, items and windows of the order.

The order is ``(occurred_at, source, sort_id)``, newest first. ``sort_id`` is
unique within a source and sorts like the source's own ids (database ids are
zero-padded), so the order is total and a cursor names one place in it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

Key = tuple[datetime, str, str]


class Kind(enum.Enum):
    ORDER_PLACED = "order_placed"
    ORDER_REFUNDED = "order_refunded"
    RETURN_REQUESTED = "return_requested"
    CHECKOUT_ABANDONED = "checkout_abandoned"
    TICKET_OPENED = "ticket_opened"
    TICKET_COMMENTED = "ticket_commented"
    SATISFACTION_RATED = "satisfaction_rated"
    PAGE_VIEWED = "page_viewed"
    PRODUCT_VIEWED = "product_viewed"
    ADDED_TO_CART = "added_to_cart"
    SEARCHED = "searched"
    CUSTOM_EVENT = "custom_event"
    NOTE_ADDED = "note_added"
    TASK_CREATED = "task_created"
    TASK_COMPLETED = "task_completed"
    TAG_ADDED = "tag_added"
    TAG_REMOVED = "tag_removed"
    CONSENT_CHANGED = "consent_changed"
    LOYALTY_CHANGED = "loyalty_changed"
    AUTOMATION_RAN = "automation_ran"
    CUSTOMER_MERGED = "customer_merged"
    CUSTOMER_UNMERGED = "customer_unmerged"


class Source(enum.Enum):
    SHOPIFY = "shopify"
    ZENDESK = "zendesk"
    POSTHOG = "posthog"
    INGEST = "ingest"
    CRM = "crm"


WEB_KINDS = frozenset(
    {
        Kind.PAGE_VIEWED,
        Kind.PRODUCT_VIEWED,
        Kind.ADDED_TO_CART,
        Kind.SEARCHED,
        Kind.CUSTOM_EVENT,
    }
)
KINDS_BY_SOURCE: Mapping[Source, frozenset[Kind]] = {
    Source.SHOPIFY: frozenset(
        {
            Kind.ORDER_PLACED,
            Kind.ORDER_REFUNDED,
            Kind.RETURN_REQUESTED,
            Kind.CHECKOUT_ABANDONED,
        }
    ),
    Source.ZENDESK: frozenset(
        {Kind.TICKET_OPENED, Kind.TICKET_COMMENTED, Kind.SATISFACTION_RATED}
    ),
    Source.POSTHOG: WEB_KINDS,
    Source.INGEST: WEB_KINDS,
    Source.CRM: frozenset(
        {
            Kind.NOTE_ADDED,
            Kind.TASK_CREATED,
            Kind.TASK_COMPLETED,
            Kind.TAG_ADDED,
            Kind.TAG_REMOVED,
            Kind.CONSENT_CHANGED,
            Kind.LOYALTY_CHANGED,
            Kind.AUTOMATION_RAN,
            Kind.CUSTOMER_MERGED,
            Kind.CUSTOMER_UNMERGED,
        }
    ),
}
NUMERIC_IDS = frozenset({Source.INGEST, Source.CRM})
"""Sources whose ``sort_id`` is a zero-padded database id."""


def padded(row_id: int) -> str:
    return f"{row_id:020d}"


@dataclass(frozen=True, slots=True)
class WebDetail:
    """A web event, whether PostHog or the ingest API saw it."""

    name: str
    url: str | None
    path: str | None
    properties: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    occurred_at: datetime
    source: Source
    sort_id: str
    kind: Kind
    summary: str
    actor: str | None
    ref: str
    """The source's own id of the thing, shown to clients."""
    detail: object
    """The canonical model (``Order``, ``Ticket``…), ``WebDetail`` or CRM payload."""
    parent: object | None = None
    """What ``detail`` belongs to: the order of a refund, the ticket of a comment."""

    @property
    def key(self) -> Key:
        return (self.occurred_at, self.source.value, self.sort_id)


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the order a page may come from, and how much of it to take.

    ``after``/``before`` bound the keys strictly (older than ``after``, newer
    than ``before``); ``since`` is inclusive and ``until`` exclusive.
    ``newest_first`` is false for ``last``/``before`` pages, read upwards.
    """

    limit: int
    after: Key | None = None
    before: Key | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = True
    kinds: frozenset[Kind] = field(default_factory=frozenset)
    """Empty: every kind."""

    def admits(self, item: TimelineItem) -> bool:
        key = item.key
        return (
            (not self.kinds or item.kind in self.kinds)
            and (self.after is None or key < self.after)
            and (self.before is None or key > self.before)
            and (self.since is None or item.occurred_at >= self.since)
            and (self.until is None or item.occurred_at < self.until)
        )

    def wants(self, source: Source) -> bool:
        return not self.kinds or bool(self.kinds & KINDS_BY_SOURCE[source])
