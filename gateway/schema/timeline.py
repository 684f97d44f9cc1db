"""The customer timeline: ``Customer.timeline``, the live subscription and
embed tokens.

A source that fails leaves its items out; the connection names it in
``unavailableSources`` and the response carries one error per failed source
(``extensions.code`` ``UPSTREAM_*`` and ``extensions.source``), so a client that
reads only ``data`` and one that reads ``errors`` both learn it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.relay.ids import customer_pk
from gateway.resolvers import timeline as resolve
from gateway.resolvers import timeline_live as live
from gateway.resolvers.context import Info
from gateway.resolvers.timeline import TimelineArgs, TimelinePage
from gateway.schema.connections import Connection, Edge
from gateway.schema.descriptions import describe_values
from gateway.schema.timeline_events import (
    TimelineEvent,
    TimelineKind,
    TimelineSource,
    event_of,
)
from gateway.timeline.cursor import item_cursor
from gateway.timeline.items import Kind, Source

if TYPE_CHECKING:
    from gateway.schema.customer import Customer

__all__ = ["TimelineKind", "TimelineSource"]

describe_values(
    Kind,
    {
        Kind.ORDER_PLACED: "A Shopify order was placed (OrderPlaced).",
        Kind.ORDER_REFUNDED: "Money was refunded on an order (OrderRefunded).",
        Kind.RETURN_REQUESTED: "A return was requested (ReturnRequested).",
        Kind.CHECKOUT_ABANDONED: "A checkout was left unpaid (CheckoutAbandoned).",
        Kind.TICKET_OPENED: "A Zendesk ticket was opened (TicketOpened).",
        Kind.TICKET_COMMENTED: "A ticket got a reply or note (TicketCommented).",
        Kind.SATISFACTION_RATED: "A ticket was rated (SatisfactionRated).",
        Kind.PAGE_VIEWED: "A web page was viewed (PageViewed).",
        Kind.PRODUCT_VIEWED: "A product page was viewed (ProductViewed).",
        Kind.ADDED_TO_CART: "A product went into the cart (AddedToCart).",
        Kind.SEARCHED: "The site was searched (Searched).",
        Kind.CUSTOM_EVENT: "Any other web or app event (CustomEvent).",
        Kind.NOTE_ADDED: "A colleague added a note (NoteAdded).",
        Kind.TASK_CREATED: "A follow-up task was added (TaskCreated).",
        Kind.TASK_COMPLETED: "A task was completed (TaskCompleted).",
        Kind.TAG_ADDED: "A tag was added (TagAdded).",
        Kind.TAG_REMOVED: "A tag was removed (TagRemoved).",
        Kind.CONSENT_CHANGED: "A marketing consent changed (ConsentChanged).",
        Kind.LOYALTY_CHANGED: "Loyalty points were credited or redeemed"
        " (LoyaltyChanged).",
        Kind.AUTOMATION_RAN: "An automation's run finished (AutomationRan).",
        Kind.CUSTOMER_MERGED: "Another customer record was merged into this one"
        " (CustomerMerged).",
        Kind.CUSTOMER_UNMERGED: "A merge of this customer was undone"
        " (CustomerUnmerged).",
    },
)
describe_values(
    Source,
    {
        Source.SHOPIFY: "The shop: orders, refunds, returns, checkouts.",
        Source.ZENDESK: "The help desk: tickets, comments, ratings.",
        Source.POSTHOG: "Web analytics: page and product views, searches.",
        Source.INGEST: "Events sent to this gateway's ingest API.",
        Source.CRM: "Our own records: notes, tasks, tags, consents, loyalty, merges.",
    },
)


@strawberry.type(description="A timeline event and its cursor.")
class TimelineEdge(Edge[TimelineEvent]):
    @strawberry.field(description="Opaque; pass as `after` (or `before` going back).")
    def cursor(self) -> str:
        return self.cursor_of(self.item)


@strawberry.type(description="A page of a customer's timeline, newest first.")
class TimelineConnection(Connection[TimelineEvent]):
    edges: Sequence[TimelineEdge] = strawberry.field(description="The page's events.")
    unavailable_sources: list[Source] = strawberry.field(
        description="Sources that failed: their events are missing from this page."
    )

    @classmethod
    def of(cls, page: TimelinePage, customer_id: int) -> TimelineConnection:
        return cls.build(
            page.items,
            item_cursor,
            lambda i: event_of(i, customer_id),
            has_next=page.has_next,
            has_previous=page.has_previous,
            edge=TimelineEdge,
            unavailable_sources=[source for source, _ in page.failures],
        )


def timeline_args(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    kinds: list[Kind] | None,
    sources: list[Source] | None,
    since: datetime | None,
    until: datetime | None,
) -> TimelineArgs:
    return TimelineArgs(
        first=first,
        after=after,
        last=last,
        before=before,
        kinds=frozenset(kinds or ()),
        sources=frozenset(sources or ()),
        since=since,
        until=until,
    )


KindsArgument = Annotated[
    list[Kind] | None,
    strawberry.argument(
        description="Only events of these kinds; all if left out or empty."
    ),
]
SourcesArgument = Annotated[
    list[Source] | None,
    strawberry.argument(
        description="Only events from these; all if left out or empty."
    ),
]
SinceArgument = Annotated[
    datetime | None, strawberry.argument(description="Inclusive.")
]
UntilArgument = Annotated[
    datetime | None, strawberry.argument(description="Exclusive.")
]
"""The timeline's filters, as ``Customer.timeline`` and the embed endpoint's
``timeline`` take them."""


async def customer_timeline(
    root: Customer,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    kinds: KindsArgument = None,
    sources: SourcesArgument = None,
    since: SinceArgument = None,
    until: UntilArgument = None,
) -> TimelineConnection:
    """Everything that happened with the customer, newest first, from every
    source (20 per page unless ``first``/``last`` says otherwise)."""
    args = timeline_args(first, after, last, before, kinds, sources, since, until)
    return TimelineConnection.of(await resolve.timeline(info, root.id, args), root.id)


@strawberry.type(description="A signed token for the embeddable timeline page.")
class EmbedToken:
    token: str = strawberry.field(
        description="Opaque; give it to the embed page only: it reads the"
        " customer's timeline until it expires."
    )
    expires_at: datetime = strawberry.field(description="When it stops working.")
    url: str = strawberry.field(description="The embed page, relative to the gateway.")


@strawberry.type
class TimelineMutation:
    @strawberry.mutation(
        description="A signed, read-only token showing one customer's timeline "
        "(optionally only some sources) in the embed page until it expires."
    )
    async def create_embed_token(
        self,
        info: Info,
        customer_id: strawberry.ID,
        ttl_seconds: Annotated[
            int,
            strawberry.argument(description="Lifetime: 1 to 604800 (7 days)."),
        ] = 3600,
        sources: Annotated[
            list[Source] | None,
            strawberry.argument(
                description="Only these sources; all if left out or empty."
            ),
        ] = None,
    ) -> EmbedToken:
        token, expires_at = await resolve.create_embed_token(
            info, customer_id, ttl_seconds, sources or ()
        )
        return EmbedToken(
            token=token, expires_at=expires_at, url=f"/embed/timeline?token={token}"
        )


@strawberry.type
class TimelineSubscription:
    @strawberry.subscription(
        description="Each new event of the customer's timeline, as it happens."
    )
    async def customer_timeline(
        self,
        info: Info,
        customer_id: strawberry.ID,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An event's `cursor`: the events after it are sent"
                " first (oldest first, at most 500), then new ones, none twice."
                " Give the last one received when reconnecting."
            ),
        ] = None,
    ) -> AsyncGenerator[TimelineEvent, None]:
        pk = await resolve.person(info, customer_pk(customer_id))
        async for item in live.new_events(info, customer_id, after=after):
            yield event_of(item, pk)
