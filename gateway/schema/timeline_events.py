"""The ``TimelineEvent`` interface and its concrete type per kind.

Each type carries its own details: an ``OrderPlaced`` links its ``Order``, a
``TicketCommented`` its comment and ticket, a ``TaskCreated`` its ``Task``.
Web events from PostHog and the ingest API share the ``WebEvent`` interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.schema.crm import ConsentChannel, ConsentState
from gateway.schema.orders import AbandonedCheckout, LineItem, Money, Order, Refund
from gateway.schema.orders import Return as OrderReturn
from gateway.schema.support import Ticket, TicketComment
from gateway.schema.tasks import Task, task_by_id
from gateway.timeline.items import Kind, Source, TimelineItem, WebDetail

TimelineKind = strawberry.enum(Kind, name="TimelineKind")
TimelineSource = strawberry.enum(Source, name="TimelineSource")


@strawberry.interface(description="Something that happened to or with a customer.")
class TimelineEvent:
    id: strawberry.ID = strawberry.field(description="`<source>:<source's own id>`.")
    occurred_at: datetime
    source: Source
    kind: Kind
    summary: str = strawberry.field(description="One human line, e.g. for a feed.")
    actor: str | None = strawberry.field(
        description="Who did it when not the customer (an agent, a rep)."
    )


@strawberry.type
class OrderPlaced(TimelineEvent):
    order: Order


@strawberry.type
class OrderRefunded(TimelineEvent):
    order: Order
    refund: Refund


@strawberry.type
class ReturnRequested(TimelineEvent):
    order: Order
    order_return: OrderReturn


@strawberry.type
class CheckoutAbandoned(TimelineEvent):
    checkout: AbandonedCheckout


@strawberry.type
class TicketOpened(TimelineEvent):
    ticket: Ticket


@strawberry.type
class TicketCommented(TimelineEvent):
    ticket: Ticket
    comment: TicketComment
    public: bool = strawberry.field(description="False for an internal note.")


@strawberry.type
class SatisfactionRated(TimelineEvent):
    ticket: Ticket
    score: str = strawberry.field(description="good or bad.")
    comment: str | None


@strawberry.interface(description="A web or app event (PostHog or the ingest API).")
class WebEvent(TimelineEvent):
    name: str
    url: str | None
    path: str | None
    properties: JSON


@strawberry.type
class PageViewed(WebEvent):
    pass


@strawberry.type
class ProductViewed(WebEvent):
    pass


@strawberry.type
class AddedToCart(WebEvent):
    pass


@strawberry.type
class Searched(WebEvent):
    pass


@strawberry.type
class CustomEvent(WebEvent):
    pass


@strawberry.type
class NoteAdded(TimelineEvent):
    """Its ``summary`` never holds the note: only ``body`` does, which the
    caller's role may hide (``gateway.auth.policy``)."""

    body: str | None = pii_field(
        PiiKind.NOTE, description="The note, cut to 200 characters."
    )


@strawberry.type
class TaskEvent(TimelineEvent):
    task_id: strawberry.Private[int]

    @strawberry.field(description="The task as it is now; null once deleted.")
    async def task(self, info: Info) -> Task | None:
        return await task_by_id(info, self.task_id)


@strawberry.type
class TaskCreated(TaskEvent):
    pass


@strawberry.type
class TaskCompleted(TaskEvent):
    pass


@strawberry.type
class TagAdded(TimelineEvent):
    tag: str


@strawberry.type
class TagRemoved(TimelineEvent):
    tag: str


@strawberry.type
class ConsentChanged(TimelineEvent):
    channel: ConsentChannel
    state: ConsentState


@strawberry.type
class LoyaltyChanged(TimelineEvent):
    points: int
    reason: str


EVENT_TYPES: tuple[type, ...] = (
    OrderPlaced, OrderRefunded, ReturnRequested, CheckoutAbandoned, TicketOpened,
    TicketCommented, SatisfactionRated, PageViewed, ProductViewed, AddedToCart,
    Searched, CustomEvent, NoteAdded, TaskCreated, TaskCompleted, TagAdded,
    TagRemoved, ConsentChanged, LoyaltyChanged,
)  # fmt: skip
"""Listed for the schema: they are reached only through the interface."""


def _common(item: TimelineItem) -> dict[str, Any]:
    return {
        "id": strawberry.ID(f"{item.source.value}:{item.ref}"),
        "occurred_at": item.occurred_at,
        "source": item.source,
        "kind": item.kind,
        "summary": item.summary,
        "actor": item.actor,
    }


def _checkout(c: canonical.Checkout) -> AbandonedCheckout:
    return AbandonedCheckout(
        id=strawberry.ID(c.id),
        created_at=c.created_at,
        completed_at=c.completed_at,
        url=c.url,
        total=Money.of(c.total),
        line_items=[LineItem.of(i) for i in c.line_items],
    )


def _refund(r: canonical.Refund) -> Refund:
    return Refund(
        id=strawberry.ID(r.id),
        created_at=r.created_at,
        note=r.note,
        total=Money.of(r.total),
    )


def _comment(c: canonical.TicketComment) -> TicketComment:
    return TicketComment(
        id=strawberry.ID(c.id),
        author_id=strawberry.ID(c.author_id) if c.author_id else None,
        body=c.body,
        public=c.public,
        created_at=c.created_at,
    )


def _web(cls: type[WebEvent]) -> Callable[[TimelineItem], TimelineEvent]:
    def build(item: TimelineItem) -> TimelineEvent:
        d = item.detail
        assert isinstance(d, WebDetail)
        return cls(
            **_common(item), name=d.name, url=d.url, path=d.path,
            properties=JSON(dict(d.properties)),
        )  # fmt: skip

    return build


def _payload(item: TimelineItem) -> Mapping[str, Any]:
    assert isinstance(item.detail, dict)
    return item.detail


def _shopify(item: TimelineItem) -> TimelineEvent:
    d, parent = item.detail, item.parent
    if isinstance(d, canonical.Order):
        return OrderPlaced(**_common(item), order=Order.of(d))
    if isinstance(d, canonical.Checkout):
        return CheckoutAbandoned(**_common(item), checkout=_checkout(d))
    assert isinstance(parent, canonical.Order)
    if isinstance(d, canonical.Refund):
        return OrderRefunded(**_common(item), order=Order.of(parent), refund=_refund(d))
    assert isinstance(d, canonical.Return)
    return ReturnRequested(
        **_common(item), order=Order.of(parent), order_return=OrderReturn.of(d)
    )


def _zendesk(item: TimelineItem) -> TimelineEvent:
    d, parent = item.detail, item.parent
    if isinstance(d, canonical.Ticket):
        return TicketOpened(**_common(item), ticket=Ticket.of(d))
    assert isinstance(parent, canonical.Ticket)
    if isinstance(d, canonical.TicketComment):
        return TicketCommented(
            **_common(item), ticket=Ticket.of(parent), comment=_comment(d),
            public=d.public,
        )  # fmt: skip
    assert isinstance(d, canonical.SatisfactionRating)
    return SatisfactionRated(
        **_common(item), ticket=Ticket.of(parent), score=d.score, comment=d.comment
    )


BUILDERS: Mapping[Kind, Callable[[TimelineItem], TimelineEvent]] = {
    **{k: _shopify for k in (Kind.ORDER_PLACED, Kind.ORDER_REFUNDED)},
    Kind.RETURN_REQUESTED: _shopify,
    Kind.CHECKOUT_ABANDONED: _shopify,
    **{k: _zendesk for k in (Kind.TICKET_OPENED, Kind.TICKET_COMMENTED)},
    Kind.SATISFACTION_RATED: _zendesk,
    Kind.PAGE_VIEWED: _web(PageViewed),
    Kind.PRODUCT_VIEWED: _web(ProductViewed),
    Kind.ADDED_TO_CART: _web(AddedToCart),
    Kind.SEARCHED: _web(Searched),
    Kind.CUSTOM_EVENT: _web(CustomEvent),
    Kind.NOTE_ADDED: lambda i: NoteAdded(
        **{**_common(i), "summary": "Note added"}, body=i.summary
    ),
    Kind.TASK_CREATED: lambda i: TaskCreated(
        **_common(i), task_id=int(_payload(i).get("task_id", 0))
    ),
    Kind.TASK_COMPLETED: lambda i: TaskCompleted(
        **_common(i), task_id=int(_payload(i).get("task_id", 0))
    ),
    Kind.TAG_ADDED: lambda i: TagAdded(**_common(i), tag=str(_payload(i).get("tag"))),
    Kind.TAG_REMOVED: lambda i: TagRemoved(
        **_common(i), tag=str(_payload(i).get("tag"))
    ),
    Kind.CONSENT_CHANGED: lambda i: ConsentChanged(
        **_common(i),
        channel=ConsentChannel(_payload(i).get("channel")),
        state=ConsentState(_payload(i).get("state")),
    ),
    Kind.LOYALTY_CHANGED: lambda i: LoyaltyChanged(
        **_common(i),
        points=int(_payload(i).get("points", 0)),
        reason=str(_payload(i).get("reason", "")),
    ),
}


def event_of(item: TimelineItem) -> TimelineEvent:
    return BUILDERS[item.kind](item)
