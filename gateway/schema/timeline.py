"""The customer timeline: ``Customer.timeline``, the live subscription and
embed tokens.

A source that fails leaves its items out; the connection names it in
``unavailableSources`` and the response carries one error per failed source
(``extensions.code`` ``UPSTREAM_*`` and ``extensions.source``), so a client that
reads only ``data`` and one that reads ``errors`` both learn it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from gateway.context import Info
from gateway.ids import customer_pk
from gateway.resolvers import timeline as resolve
from gateway.resolvers import timeline_live as live
from gateway.resolvers.timeline import TimelineArgs, TimelinePage
from gateway.schema.connections import page_info
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


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineEvent


@strawberry.type
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: relay.PageInfo
    unavailable_sources: list[Source] = strawberry.field(
        description="Sources that failed: their events are missing from this page."
    )

    @classmethod
    def of(cls, page: TimelinePage, customer_id: int) -> TimelineConnection:
        edges = [
            TimelineEdge(cursor=item_cursor(i), node=event_of(i, customer_id))
            for i in page.items
        ]
        return cls(
            edges=edges,
            page_info=page_info(
                edges, has_next=page.has_next, has_previous=page.has_previous
            ),
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


async def customer_timeline(
    root: Customer,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    kinds: list[Kind] | None = None,
    sources: list[Source] | None = None,
    since: Annotated[
        datetime | None, strawberry.argument(description="Inclusive.")
    ] = None,
    until: Annotated[
        datetime | None, strawberry.argument(description="Exclusive.")
    ] = None,
) -> TimelineConnection:
    """Everything that happened with the customer, newest first, from every
    source (20 per page unless ``first``/``last`` says otherwise)."""
    args = timeline_args(first, after, last, before, kinds, sources, since, until)
    return TimelineConnection.of(await resolve.timeline(info, root.id, args), root.id)


@strawberry.type
class EmbedToken:
    token: str
    expires_at: datetime
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
        ttl_seconds: int = 3600,
        sources: list[Source] | None = None,
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
        self, info: Info, customer_id: strawberry.ID
    ) -> AsyncGenerator[TimelineEvent, None]:
        pk = customer_pk(customer_id)
        async for item in live.new_events(info, customer_id):
            yield event_of(item, pk)
