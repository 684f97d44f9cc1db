"""The help-desk side of a customer (Zendesk): tickets, comments, satisfaction."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.resolvers import support as resolve
from gateway.schema.connections import page_info

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum
class TicketStatus(enum.Enum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    HOLD = "hold"
    SOLVED = "solved"
    CLOSED = "closed"


@strawberry.type
class TicketComment:
    id: strawberry.ID
    author_id: strawberry.ID | None
    body: str | None = pii_field(
        PiiKind.TEXT, description="Null where the caller's role may not see it."
    )
    public: bool = strawberry.field(description="False for internal notes.")
    created_at: datetime
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, comment: canonical.TicketComment, customer_id: int) -> TicketComment:
        return cls(
            id=strawberry.ID(comment.id),
            author_id=strawberry.ID(comment.author_id) if comment.author_id else None,
            body=comment.body,
            public=comment.public,
            created_at=comment.created_at,
            customer_id=customer_id,
        )


@strawberry.type
class SatisfactionRating:
    score: str = strawberry.field(description="good, bad, offered or unoffered.")
    comment: str | None = pii_field(PiiKind.TEXT)
    created_at: datetime | None
    customer_id: strawberry.Private[int]


@strawberry.type
class Ticket:
    id: strawberry.ID
    subject: str = pii_field(
        PiiKind.TEXT,
        redacted=lambda t: f"Ticket #{t.id}",
        description="`Ticket #<id>` where the caller's role may not see it.",
    )
    status: str
    priority: str | None
    type: str | None
    channel: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    satisfaction: SatisfactionRating | None
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, t: canonical.Ticket, customer_id: int) -> Ticket:
        rating = t.satisfaction
        return cls(
            id=strawberry.ID(t.id),
            subject=t.subject,
            status=t.status,
            priority=t.priority,
            type=t.type,
            channel=t.channel,
            tags=list(t.tags),
            created_at=t.created_at,
            updated_at=t.updated_at,
            satisfaction=SatisfactionRating(
                score=rating.score,
                comment=rating.comment,
                created_at=rating.created_at,
                customer_id=customer_id,
            )
            if rating
            else None,
            customer_id=customer_id,
        )

    @strawberry.field(description="Public replies and internal notes, oldest first.")
    async def comments(self, info: Info) -> list[TicketComment]:
        return [
            TicketComment.of(c, self.customer_id)
            for c in await resolve.comments(info, str(self.id))
        ]


@strawberry.type
class TicketEdge:
    cursor: str
    node: Ticket


@strawberry.type
class TicketConnection:
    edges: list[TicketEdge]
    page_info: relay.PageInfo


@strawberry.type
class Satisfaction:
    latest_score: str | None
    latest_comment: str | None = pii_field(PiiKind.TEXT)
    average: float | None = strawberry.field(
        description="Share of good ratings among good and bad ones, 0–1."
    )
    rated_count: int
    customer_id: strawberry.Private[int]


async def customer_tickets(
    root: Customer,
    info: Info,
    first: int = 10,
    after: str | None = None,
    status: list[TicketStatus] | None = None,
) -> TicketConnection | None:
    """Tickets the customer requested, newest first; null without a Zendesk link."""
    statuses = {s.value for s in status} if status else None
    page = await resolve.tickets(info, root.id, first, after, statuses)
    if page is None:
        return None
    edges = [
        TicketEdge(cursor=resolve.ticket_cursor(t), node=Ticket.of(t, root.id))
        for t in page.items
    ]
    return TicketConnection(
        edges=edges,
        page_info=page_info(
            edges, has_next=page.has_next, has_previous=after is not None
        ),
    )


async def customer_open_ticket_count(root: Customer, info: Info) -> int | None:
    """Tickets in new, open, pending or hold."""
    return await resolve.open_ticket_count(info, root.id)


async def customer_satisfaction(root: Customer, info: Info) -> Satisfaction | None:
    found = await resolve.satisfaction(info, root.id)
    if found is None:
        return None
    return Satisfaction(
        latest_score=found.latest_score,
        latest_comment=found.latest_comment,
        average=found.average,
        rated_count=found.rated_count,
        customer_id=root.id,
    )
