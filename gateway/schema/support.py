"""The help-desk side of a customer (Zendesk): tickets, comments, satisfaction."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from connectors import models as canonical
from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.resolvers import support as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection
from gateway.schema.descriptions import describe_values, role_null
from gateway.schema.upstream_scope import ReadsUpstream

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum(
    description="Where a Zendesk ticket stands (custom statuses report the one"
    " they belong to)."
)
class TicketStatus(enum.Enum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    HOLD = "hold"
    SOLVED = "solved"
    CLOSED = "closed"
    UNKNOWN = "unknown"


describe_values(
    TicketStatus,
    {
        TicketStatus.NEW: "Not yet looked at by an agent.",
        TicketStatus.OPEN: "An agent is working on it.",
        TicketStatus.PENDING: "Waiting for the customer's reply.",
        TicketStatus.HOLD: "Waiting for a third party.",
        TicketStatus.SOLVED: "Solved; the customer may still reopen it.",
        TicketStatus.CLOSED: "Closed for good.",
        TicketStatus.UNKNOWN: "A status Zendesk sent that this gateway does not"
        " know (one added later, or `deleted`); the ticket is still shown."
        " Filtering by it finds such tickets.",
    },
)


@strawberry.type(description="A reply or an internal note on a ticket.")
class TicketComment:
    id: strawberry.ID = strawberry.field(description="The Zendesk comment id.")
    author_id: strawberry.ID | None = strawberry.field(
        description="The Zendesk user who wrote it; null when Zendesk names none"
        " (a system comment)."
    )
    body: str | None = pii_field(
        PiiKind.TEXT, description="Plain text. " + role_null(PiiKind.TEXT)
    )
    public: bool = strawberry.field(description="False for internal notes.")
    created_at: datetime = strawberry.field(description="When it was written (UTC).")
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


@strawberry.type(description="The customer's rating of a ticket (CSAT).")
class SatisfactionRating:
    score: str = strawberry.field(description="good, bad, offered or unoffered.")
    comment: str | None = pii_field(
        PiiKind.TEXT,
        description="Null when the customer wrote none. " + role_null(PiiKind.TEXT),
    )
    created_at: datetime | None = strawberry.field(
        description="Null when the rating came embedded in the ticket, which"
        " carries no time."
    )
    customer_id: strawberry.Private[int]


@strawberry.type(description="A Zendesk ticket the customer requested.")
class Ticket:
    id: strawberry.ID = strawberry.field(description="The Zendesk ticket id.")
    subject: str = pii_field(
        PiiKind.TEXT,
        redacted=lambda t: f"Ticket #{t.id}",
        description="`Ticket #<id>` where the caller's role may not see it.",
    )
    status: TicketStatus = strawberry.field(
        description="Where it stands: the values `tickets(status:)` filters by."
    )
    priority: str | None = strawberry.field(
        description="urgent, high, normal or low; null when not set."
    )
    type: str | None = strawberry.field(
        description="problem, incident, question or task; null when not set."
    )
    channel: str | None = strawberry.field(
        description='How it came in, e.g. "email", "web", "chat"; null when'
        " Zendesk does not say."
    )
    tags: list[str] = strawberry.field(description="Zendesk's tags on the ticket.")
    created_at: datetime = strawberry.field(description="When it was opened (UTC).")
    updated_at: datetime = strawberry.field(description="Last change (UTC).")
    satisfaction: SatisfactionRating | None = strawberry.field(
        description="Null when satisfaction ratings are off in Zendesk."
    )
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, t: canonical.Ticket, customer_id: int) -> Ticket:
        rating = t.satisfaction
        return cls(
            id=strawberry.ID(t.id),
            subject=t.subject,
            status=TicketStatus(t.status),
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

    @strawberry.field(
        description="Public replies and internal notes, oldest first.",
        extensions=[ReadsUpstream()],
    )
    async def comments(self, info: Info) -> list[TicketComment]:
        return [
            TicketComment.of(c, self.customer_id)
            for c in await resolve.comments(info, str(self.id))
        ]


@strawberry.type(description="A page of tickets, newest first.")
class TicketConnection(Connection[Ticket]):
    total_count: int = strawberry.field(
        description="The customer's tickets in the statuses asked for (all of"
        " them when `status` is left out), whatever the page."
    )


@strawberry.type(description="The customer's satisfaction ratings, summed up.")
class Satisfaction:
    latest_score: str | None = strawberry.field(
        description="good or bad; null when no ticket was rated."
    )
    latest_comment: str | None = pii_field(
        PiiKind.TEXT,
        description="The latest rating's comment; null when it has none. "
        + role_null(PiiKind.TEXT),
    )
    average: float | None = strawberry.field(
        description="Share of good ratings among good and bad ones, 0–1; null"
        " when no ticket was rated."
    )
    rated_count: int = strawberry.field(description="Tickets rated good or bad.")
    customer_id: strawberry.Private[int]


async def customer_tickets(
    root: Customer,
    info: Info,
    first: int = 10,
    after: str | None = None,
    status: Annotated[
        list[TicketStatus] | None,
        strawberry.argument(
            description="Only tickets in one of these; all if left out or empty."
        ),
    ] = None,
) -> TicketConnection | None:
    """Tickets the customer requested, newest first; `first` at most
    CG_MAX_PAGE_SIZE (100 by default)."""
    statuses = {s.value for s in status} if status else None
    page = await resolve.tickets(info, root.id, first, after, statuses)
    if page is None:
        return None
    return TicketConnection.build(
        page.items,
        resolve.ticket_cursor,
        lambda t: Ticket.of(t, root.id),
        has_next=page.has_next,
        has_previous=after is not None,
        total_count=page.total,
    )


async def customer_open_ticket_count(root: Customer, info: Info) -> int | None:
    """Tickets in NEW, OPEN, PENDING or HOLD."""
    return await resolve.open_ticket_count(info, root.id)


async def customer_satisfaction(root: Customer, info: Info) -> Satisfaction | None:
    """The customer's ratings of their tickets."""
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
