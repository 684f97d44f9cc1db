"""The behaviour side of a customer (PostHog): web activity, last seen, sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from connectors import models as canonical
from connectors.models import ActivityKind
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.resolvers import activity as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection, Edge
from gateway.schema.descriptions import describe_values, role_null
from gateway.schema.timeline_events import PLAIN_NAME, URL_MASK, plain_name
from gateway.timeline.items import Kind
from gateway.timeline.mapping import ACTIVITY_KINDS

if TYPE_CHECKING:
    from gateway.schema.customer import Customer

ActivityKindEnum = strawberry.enum(
    ActivityKind, name="ActivityKind", description="What a web event was."
)
describe_values(
    ActivityKind,
    {
        ActivityKind.PAGE_VIEW: "A page was viewed ($pageview).",
        ActivityKind.PRODUCT_VIEW: "A product page was viewed.",
        ActivityKind.ADD_TO_CART: "A product was added to the cart.",
        ActivityKind.SEARCH: "The site was searched.",
        ActivityKind.IDENTIFY: "The visitor was identified as this customer.",
        ActivityKind.CUSTOM: "Any other event; `name` says which.",
    },
)


@strawberry.type(description="One web event from PostHog.")
class ActivityEvent:
    id: strawberry.ID = strawberry.field(description="PostHog's event uuid.")
    kind: ActivityKind = strawberry.field(description="What kind of event it was.")
    name: str = pii_field(
        PiiKind.TEXT,
        redacted=lambda event: plain_name(
            event.name, ACTIVITY_KINDS.get(event.kind, Kind.CUSTOM_EVENT)
        ),
        description='PostHog\'s event name, e.g. "$pageview", "Product Viewed". '
        + PLAIN_NAME,
    )
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    url: str | None = pii_field(
        PiiKind.URL,
        description="The page's URL. Null when the event has none. "
        + role_null(PiiKind.URL, URL_MASK),
    )
    path: str | None = pii_field(
        PiiKind.URL,
        description="The URL's path; null when the event has no URL. "
        + role_null(PiiKind.URL, "without query or ;params"),
    )
    session_id: str | None = strawberry.field(
        description="PostHog's session id; null when the event has none."
    )
    properties: JSON | None = pii_field(
        PiiKind.TEXT,
        description="The event's other properties, as sent. " + role_null(PiiKind.TEXT),
    )
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, event: canonical.ActivityEvent, customer_id: int) -> ActivityEvent:
        return cls(
            id=strawberry.ID(event.id),
            kind=event.kind,
            name=event.name,
            occurred_at=event.occurred_at,
            url=event.url,
            path=event.path,
            session_id=event.session_id,
            properties=JSON(dict(event.properties)),
            customer_id=customer_id,
        )


@strawberry.type(description="A web event and its cursor.")
class ActivityEdge(Edge[ActivityEvent]):
    pass


@strawberry.type(description="A page of web events, newest first.")
class ActivityConnection(Connection[ActivityEvent]):
    edges: Sequence[ActivityEdge] = strawberry.field(description="The page's events.")


async def customer_activity(
    root: Customer,
    info: Info,
    first: int = 20,
    after: str | None = None,
    kinds: Annotated[
        list[ActivityKind] | None,
        strawberry.argument(
            description="Only events of these kinds; all if left out or empty."
        ),
    ] = None,
) -> ActivityConnection | None:
    """Recent web activity, newest first; null without a PostHog person."""
    wanted = {k.value for k in kinds} if kinds else None
    page = await resolve.activity(info, root.id, first, after, wanted)
    if page is None:
        return None
    return ActivityConnection.build(
        enumerate(page.items, page.offset),
        lambda pair: resolve.activity_cursor(pair[1], position=pair[0]),
        lambda pair: ActivityEvent.of(pair[1], root.id),
        has_next=page.has_next,
        has_previous=after is not None,
        edge=ActivityEdge,
    )


async def customer_last_seen_at(root: Customer, info: Info) -> datetime | None:
    return await resolve.last_seen_at(info, root.id)


async def customer_sessions_count(root: Customer, info: Info) -> int | None:
    """Distinct web sessions in the last 30 days."""
    return await resolve.sessions_count(info, root.id)
