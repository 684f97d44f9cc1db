"""Help-desk reads: our customer id → Zendesk link → the Zendesk loaders."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.models import Ticket, TicketComment
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

TICKETS: Cursor[tuple[str, str]] = Cursor("tickets", (str, str))
OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})


@dataclass(frozen=True, slots=True)
class Satisfaction:
    latest_score: str | None
    latest_comment: str | None
    average: float | None
    """Share of good ratings among good and bad ones (0–1)."""
    rated_count: int


async def _tickets(info: Info, customer_id: int) -> list[Ticket] | None:
    """The customer's tickets, newest first."""
    desk = info.context.loaders.upstream.zendesk
    tickets = await desk.tickets.load(customer_id) if desk else None
    return None if tickets is None else sorted(tickets, key=_sort_key, reverse=True)


def _sort_key(ticket: Ticket) -> tuple[str, str]:
    return (ticket.created_at.isoformat(), ticket.id.zfill(20))


def ticket_cursor(ticket: Ticket) -> str:
    return TICKETS.encode(_sort_key(ticket))


async def tickets(
    info: Info,
    customer_id: int,
    first: int,
    after: str | None,
    statuses: set[str] | None,
) -> Page[Ticket] | None:
    check_first(first, info.context.services.settings.max_page_size)
    start = TICKETS.decode(after) if after is not None else None
    newest_first = await _tickets(info, customer_id)
    if newest_first is None:
        return None
    if statuses:
        newest_first = [t for t in newest_first if t.status in statuses]
    if start is not None:
        newest_first = [t for t in newest_first if _sort_key(t) < start]
    return Page.from_rows(newest_first, first)


async def comments(info: Info, ticket_id: str) -> list[TicketComment]:
    loaders = info.context.loaders.upstream.zendesk
    if loaders is None:
        return []
    found: list[TicketComment] = await loaders.comments_by_ticket.load(ticket_id)
    return found


async def open_ticket_count(info: Info, customer_id: int) -> int | None:
    found = await _tickets(info, customer_id)
    if found is None:
        return None
    return sum(1 for t in found if t.status in OPEN_STATUSES)


async def satisfaction(info: Info, customer_id: int) -> Satisfaction | None:
    found = await _tickets(info, customer_id)
    if found is None:
        return None
    rated = [
        t.satisfaction
        for t in found
        if t.satisfaction is not None and t.satisfaction.score in ("good", "bad")
    ]
    if not rated:
        return Satisfaction(None, None, None, 0)
    good = sum(1 for r in rated if r.score == "good")
    return Satisfaction(
        latest_score=rated[0].score,
        latest_comment=rated[0].comment,
        average=round(good / len(rated), 4),
        rated_count=len(rated),
    )
