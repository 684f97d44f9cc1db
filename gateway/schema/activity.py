"""The behaviour side of a customer (PostHog): web activity, last seen, sessions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from connectors.models import ActivityKind
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.resolvers import activity as resolve
from gateway.schema.connections import page_info

if TYPE_CHECKING:
    from gateway.schema.customer import Customer

ActivityKindEnum = strawberry.enum(ActivityKind, name="ActivityKind")


@strawberry.type
class ActivityEvent:
    id: strawberry.ID
    kind: ActivityKind
    name: str
    occurred_at: datetime
    url: str | None = pii_field(PiiKind.URL)
    path: str | None
    session_id: str | None
    properties: JSON | None = pii_field(
        PiiKind.TEXT, description="Null where the caller's role may not see it."
    )
    customer_id: strawberry.Private[int]


@strawberry.type
class ActivityEdge:
    cursor: str
    node: ActivityEvent


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: relay.PageInfo


async def customer_activity(
    root: Customer,
    info: Info,
    first: int = 20,
    after: str | None = None,
    kinds: list[ActivityKind] | None = None,
) -> ActivityConnection | None:
    """Recent web activity, newest first; null without a PostHog person."""
    wanted = {k.value for k in kinds} if kinds else None
    page = await resolve.activity(info, root.id, first, after, wanted)
    if page is None:
        return None
    edges = [
        ActivityEdge(
            cursor=resolve.activity_cursor(e),
            node=ActivityEvent(
                id=strawberry.ID(e.id),
                kind=e.kind,
                name=e.name,
                occurred_at=e.occurred_at,
                url=e.url,
                path=e.path,
                session_id=e.session_id,
                properties=JSON(dict(e.properties)),
                customer_id=root.id,
            ),
        )
        for e in page.items
    ]
    return ActivityConnection(
        edges=edges,
        page_info=page_info(
            edges, has_next=page.has_next, has_previous=after is not None
        ),
    )


async def customer_last_seen_at(root: Customer, info: Info) -> datetime | None:
    return await resolve.last_seen_at(info, root.id)


async def customer_sessions_count(root: Customer, info: Info) -> int | None:
    """Distinct web sessions in the last 30 days."""
    return await resolve.sessions_count(info, root.id)
