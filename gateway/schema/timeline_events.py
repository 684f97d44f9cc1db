"""The ``TimelineEvent`` interface and its concrete type per kind.

Each type carries its own details: an ``OrderPlaced`` links its ``Order``, a
``TicketCommented`` its comment and ticket, a ``TaskCreated`` its ``Task``.
Web events from PostHog and the ingest API share the ``WebEvent`` interface.

Summaries may quote free text (a ticket's subject, a comment, a task's title, a
search): a role that may not see free text gets ``PLAIN_SUMMARIES``' line for
the kind instead (``gateway.auth.policy``, ``PiiKind.TEXT``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.relay import to_base64
from strawberry.scalars import JSON

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.resolvers.context import Info
from gateway.schema.crm import ConsentChannel, ConsentState
from gateway.schema.descriptions import role_null
from gateway.schema.orders import AbandonedCheckout, Order, Refund
from gateway.schema.orders import Return as OrderReturn
from gateway.schema.support import Ticket, TicketComment
from gateway.schema.tasks import Task, task_by_id
from gateway.timeline.cursor import item_cursor
from gateway.timeline.items import Kind, Source, TimelineItem, WebDetail
from gateway.timeline.mapping import STANDARD_EVENT_NAMES

TimelineKind = strawberry.enum(
    Kind, name="TimelineKind", description="What happened: one per event type."
)
TimelineSource = strawberry.enum(
    Source, name="TimelineSource", description="Where an event comes from."
)


@strawberry.interface(description="Something that happened to or with a customer.")
class TimelineEvent:
    id: strawberry.ID = strawberry.field(description="`<source>:<source's own id>`.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    source: Source = strawberry.field(description="Where it comes from.")
    kind: Kind = strawberry.field(description="What happened; names the type.")
    summary: str = pii_field(
        PiiKind.TEXT,
        redacted=lambda event: event.plain_summary,
        description="One human line, e.g. for a feed; without quoted text where "
        "the caller's role may not see it.",
    )
    actor: str | None = strawberry.field(
        description="Who did it when not the customer (an agent, a rep); null"
        " when the customer did."
    )
    cursor: str = strawberry.field(
        description="Its place in the timeline: `customerTimeline(after:)` given"
        " the last one received replays what came after it, then goes live."
    )
    plain_summary: strawberry.Private[str]
    customer_id: strawberry.Private[int]


@strawberry.type(description="The customer placed an order.")
class OrderPlaced(TimelineEvent):
    order: Order = strawberry.field(description="The order.")


@strawberry.type(description="Money was refunded on an order.")
class OrderRefunded(TimelineEvent):
    order: Order = strawberry.field(description="The refunded order.")
    refund: Refund = strawberry.field(description="The refund.")


@strawberry.type(description="The customer asked to return items.")
class ReturnRequested(TimelineEvent):
    order: Order = strawberry.field(description="The order returned from.")
    order_return: OrderReturn = strawberry.field(description="The return.")


@strawberry.type(description="The customer left a checkout unpaid.")
class CheckoutAbandoned(TimelineEvent):
    checkout: AbandonedCheckout = strawberry.field(description="The checkout.")


@strawberry.type(description="The customer opened a ticket.")
class TicketOpened(TimelineEvent):
    ticket: Ticket = strawberry.field(description="The ticket.")


@strawberry.type(description="A ticket got a reply or an internal note.")
class TicketCommented(TimelineEvent):
    ticket: Ticket = strawberry.field(description="The ticket.")
    comment: TicketComment = strawberry.field(description="The comment.")
    public: bool = strawberry.field(description="False for an internal note.")


@strawberry.type(description="The customer rated a ticket.")
class SatisfactionRated(TimelineEvent):
    ticket: Ticket = strawberry.field(description="The rated ticket.")
    score: str = strawberry.field(description="good or bad.")
    comment: str | None = pii_field(
        PiiKind.TEXT,
        description="Null when none was written. " + role_null(PiiKind.TEXT),
    )


def plain_name(name: str, kind: Kind) -> str:
    """An event's name for a role that may not see free text: a name the
    vendors define as it is, the sender's own as the kind's plain line."""
    return name if name in STANDARD_EVENT_NAMES else PLAIN_SUMMARIES[kind]


PLAIN_NAME = (
    "A name the sender chose (a page's title, a custom event) may quote anything:"
    " roles that may not see free text get the kind's plain line instead"
    ' ("Viewed a page", "Custom event"); names the vendors define are shown.'
)
URL_MASK = "scheme, host, port and path only"


@strawberry.interface(description="A web or app event (PostHog or the ingest API).")
class WebEvent(TimelineEvent):
    name: str = pii_field(
        PiiKind.TEXT,
        redacted=lambda event: plain_name(event.name, event.kind),
        description='The event\'s name, e.g. "$pageview", "Product Viewed". '
        + PLAIN_NAME,
    )
    url: str | None = pii_field(
        PiiKind.URL,
        description="Null when the event has none. " + role_null(PiiKind.URL, URL_MASK),
    )
    path: str | None = pii_field(
        PiiKind.URL,
        description="The URL's path; null when the event has no URL. "
        + role_null(PiiKind.URL, "without query or ;params"),
    )
    properties: JSON | None = pii_field(
        PiiKind.TEXT,
        description="The event's other properties, as sent. " + role_null(PiiKind.TEXT),
    )


@strawberry.type(description="A page was viewed.")
class PageViewed(WebEvent):
    pass


@strawberry.type(description="A product page was viewed.")
class ProductViewed(WebEvent):
    pass


@strawberry.type(description="A product was added to the cart.")
class AddedToCart(WebEvent):
    pass


@strawberry.type(description="The site was searched.")
class Searched(WebEvent):
    pass


@strawberry.type(description="Any other web or app event; `name` says which.")
class CustomEvent(WebEvent):
    pass


@strawberry.type(description="A colleague added a note.")
class NoteAdded(TimelineEvent):
    """Its ``summary`` never holds the note: only ``body`` does, which the
    caller's role may hide (``gateway.auth.policy``)."""

    body: str | None = pii_field(
        PiiKind.NOTE,
        description="The note, cut to 200 characters. " + role_null(PiiKind.NOTE),
    )


@strawberry.type(description="A task changed.")
class TaskEvent(TimelineEvent):
    task_id: strawberry.Private[int]

    @strawberry.field(description="The task as it is now; null when it was deleted.")
    async def task(self, info: Info) -> Task | None:
        return await task_by_id(info, self.task_id)


@strawberry.type(description="A follow-up task was added.")
class TaskCreated(TaskEvent):
    pass


@strawberry.type(description="A task was completed.")
class TaskCompleted(TaskEvent):
    pass


@strawberry.type(description="A tag was added to the customer.")
class TagAdded(TimelineEvent):
    tag: str = strawberry.field(description="The tag, lower-cased.")


@strawberry.type(description="A tag was removed from the customer.")
class TagRemoved(TimelineEvent):
    tag: str = strawberry.field(description="The tag, lower-cased.")


@strawberry.type(description="A marketing consent changed.")
class ConsentChanged(TimelineEvent):
    channel: ConsentChannel = strawberry.field(description="The channel.")
    state: ConsentState = strawberry.field(description="The new state.")


@strawberry.type(description="Loyalty points were credited or redeemed.")
class LoyaltyChanged(TimelineEvent):
    points: int = strawberry.field(
        description="Positive: credited; negative: redeemed."
    )
    reason: str | None = pii_field(
        PiiKind.TEXT, description="Why. " + role_null(PiiKind.TEXT)
    )


@strawberry.type(
    description="An automation's run for the customer finished: done, or dead"
    " after its retries (automationRuns has its actions' outcomes)."
)
class AutomationRan(TimelineEvent):
    automation_name: str = strawberry.field(description="The automation's name.")
    run_id: strawberry.ID = strawberry.field(description="The run (AutomationRun id).")
    status: str = strawberry.field(description="`done` or `dead`.")
    trigger: str = strawberry.field(
        description="What fired it: a trigger kind, e.g. `orderPlaced`."
    )


@strawberry.type(
    description="Another customer record was merged into this one: its"
    " history, links and tags are this customer's now (unmergeCustomer undoes it)."
)
class CustomerMerged(TimelineEvent):
    merged_id: strawberry.ID = strawberry.field(
        description="The merged customer's id (it resolves to this customer)."
    )


@strawberry.type(
    description="A merge was undone: the two customers are apart again, each"
    " with what it held."
)
class CustomerUnmerged(TimelineEvent):
    other_id: strawberry.ID = strawberry.field(
        description="The other customer of the undone merge."
    )


EVENT_TYPES: tuple[type, ...] = (
    OrderPlaced, OrderRefunded, ReturnRequested, CheckoutAbandoned, TicketOpened,
    TicketCommented, SatisfactionRated, PageViewed, ProductViewed, AddedToCart,
    Searched, CustomEvent, NoteAdded, TaskCreated, TaskCompleted, TagAdded,
    TagRemoved, ConsentChanged, LoyaltyChanged, AutomationRan, CustomerMerged,
    CustomerUnmerged,
)  # fmt: skip
"""Listed for the schema: they are reached only through the interface."""


PLAIN_SUMMARIES: Mapping[Kind, str] = {
    Kind.TICKET_OPENED: "Opened a ticket",
    Kind.TICKET_COMMENTED: "Commented on a ticket",
    Kind.PAGE_VIEWED: "Viewed a page",
    Kind.PRODUCT_VIEWED: "Viewed a product",
    Kind.ADDED_TO_CART: "Added a product to the cart",
    Kind.SEARCHED: "Searched",
    Kind.CUSTOM_EVENT: "Custom event",
    Kind.NOTE_ADDED: "Note added",
    Kind.TASK_CREATED: "Task created",
    Kind.TASK_COMPLETED: "Task completed",
    Kind.LOYALTY_CHANGED: "Loyalty points changed",
}
"""The summary of kinds whose summary quotes free text, for roles that may not
see it; other kinds' summaries quote none and are shown as they are."""


def _common(item: TimelineItem, customer_id: int) -> dict[str, Any]:
    return {
        "id": strawberry.ID(f"{item.source.value}:{item.ref}"),
        "occurred_at": item.occurred_at,
        "source": item.source,
        "kind": item.kind,
        "summary": item.summary,
        "plain_summary": PLAIN_SUMMARIES.get(item.kind, item.summary),
        "actor": item.actor,
        "cursor": item_cursor(item),
        "customer_id": customer_id,
    }


Builder = Callable[[TimelineItem, int], TimelineEvent]


def _web(cls: type[WebEvent]) -> Builder:
    def build(item: TimelineItem, customer_id: int) -> TimelineEvent:
        d = item.detail
        assert isinstance(d, WebDetail)
        return cls(
            **_common(item, customer_id), name=d.name, url=d.url, path=d.path,
            properties=JSON(dict(d.properties)),
        )  # fmt: skip

    return build


def _payload(item: TimelineItem) -> Mapping[str, Any]:
    assert isinstance(item.detail, dict)
    return item.detail


def _shopify(item: TimelineItem, customer_id: int) -> TimelineEvent:
    d, parent, common = item.detail, item.parent, _common(item, customer_id)
    if isinstance(d, canonical.Order):
        return OrderPlaced(**common, order=Order.of(d, customer_id))
    if isinstance(d, canonical.Checkout):
        return CheckoutAbandoned(
            **common, checkout=AbandonedCheckout.of(d, customer_id)
        )
    assert isinstance(parent, canonical.Order)
    order = Order.of(parent, customer_id)
    if isinstance(d, canonical.Refund):
        return OrderRefunded(**common, order=order, refund=Refund.of(d, customer_id))
    assert isinstance(d, canonical.Return)
    return ReturnRequested(**common, order=order, order_return=OrderReturn.of(d))


def _zendesk(item: TimelineItem, customer_id: int) -> TimelineEvent:
    d, parent, common = item.detail, item.parent, _common(item, customer_id)
    if isinstance(d, canonical.Ticket):
        return TicketOpened(**common, ticket=Ticket.of(d, customer_id))
    assert isinstance(parent, canonical.Ticket)
    ticket = Ticket.of(parent, customer_id)
    if isinstance(d, canonical.TicketComment):
        return TicketCommented(
            **common, ticket=ticket, comment=TicketComment.of(d, customer_id),
            public=d.public,
        )  # fmt: skip
    assert isinstance(d, canonical.SatisfactionRating)
    return SatisfactionRated(**common, ticket=ticket, score=d.score, comment=d.comment)


def _task(cls: type[TaskEvent]) -> Builder:
    def build(item: TimelineItem, customer_id: int) -> TimelineEvent:
        task_id = int(_payload(item).get("task_id", 0))
        return cls(**_common(item, customer_id), task_id=task_id)

    return build


def _other(item: TimelineItem) -> strawberry.ID:
    return strawberry.ID(to_base64("Customer", int(_payload(item).get("other", 0))))


BUILDERS: Mapping[Kind, Builder] = {
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
    Kind.NOTE_ADDED: lambda i, c: NoteAdded(
        **{**_common(i, c), "summary": "Note added"}, body=i.summary
    ),
    Kind.TASK_CREATED: _task(TaskCreated),
    Kind.TASK_COMPLETED: _task(TaskCompleted),
    Kind.TAG_ADDED: lambda i, c: TagAdded(
        **_common(i, c), tag=str(_payload(i).get("tag"))
    ),
    Kind.TAG_REMOVED: lambda i, c: TagRemoved(
        **_common(i, c), tag=str(_payload(i).get("tag"))
    ),
    Kind.CONSENT_CHANGED: lambda i, c: ConsentChanged(
        **_common(i, c),
        channel=ConsentChannel(_payload(i).get("channel")),
        state=ConsentState(_payload(i).get("state")),
    ),
    Kind.LOYALTY_CHANGED: lambda i, c: LoyaltyChanged(
        **_common(i, c),
        points=int(_payload(i).get("points", 0)),
        reason=str(_payload(i).get("reason", "")),
    ),
    Kind.AUTOMATION_RAN: lambda i, c: AutomationRan(
        **_common(i, c),
        automation_name=str(_payload(i).get("automation")),
        run_id=strawberry.ID(
            to_base64("AutomationRun", int(_payload(i).get("run_id", 0)))
        ),
        status=str(_payload(i).get("status")),
        trigger=str(_payload(i).get("trigger")),
    ),
    Kind.CUSTOMER_MERGED: lambda i, c: CustomerMerged(
        **_common(i, c), merged_id=_other(i)
    ),
    Kind.CUSTOMER_UNMERGED: lambda i, c: CustomerUnmerged(
        **_common(i, c), other_id=_other(i)
    ),
}


def event_of(item: TimelineItem, customer_id: int) -> TimelineEvent:
    """``item`` of the customer ``customer_id`` (the audit's subject)."""
    return BUILDERS[item.kind](item, customer_id)
