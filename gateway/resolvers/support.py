"""Help-desk reads: our customer id → Zendesk link → the Zendesk loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from connectors.models import Ticket, TicketComment
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

TICKETS: Cursor[tuple[str, str]] = Cursor("tickets", (str, str))
SOURCE = "zendesk"
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
    read = all_tickets(info, customer_id)
    tickets = await read if read is not None else None
    return None if tickets is None else sorted(tickets, key=_sort_key, reverse=True)


def all_tickets(info: Info, customer_id: int) -> Awaitable[list[Ticket] | None] | None:
    """The read of the customer's tickets, every field's here
    (``upstream_field(starts=)``)."""
    desk = info.context.loaders.upstream.zendesk
    return desk.tickets.load(customer_id) if desk else None


def first_tickets(
    info: Info,
    customer_id: int,
    first: int = 10,
    after: str | None = None,
    **_: object,
) -> Awaitable[list[Ticket] | None] | None:
    """The read ``tickets`` makes, once its arguments are checked
    (``upstream_field(starts=)``)."""
    _start(info, first, after)
    return all_tickets(info, customer_id)


def _start(info: Info, first: int, after: str | None) -> tuple[str, str] | None:
    """The page's arguments checked: the cursor's sort key."""
    check_first(first, info.context.services.settings.max_page_size)
    return TICKETS.decode(after) if after is not None else None


def _sort_key(ticket: Ticket) -> tuple[str, str]:
    return (ticket.created_at.isoformat(), ticket.id.zfill(20))


def ticket_cursor(ticket: Ticket) -> str:
    return TICKETS.encode(_sort_key(ticket))


@dataclass(frozen=True, slots=True)
class TicketPage:
    items: Sequence[Ticket]
    has_next: bool
    total: int
    """The customer's tickets in the statuses asked for, whatever the page."""


async def tickets(
    info: Info,
    customer_id: int,
    first: int,
    after: str | None,
    statuses: set[str] | None,
) -> TicketPage | None:
    start = _start(info, first, after)
    newest_first = await _tickets(info, customer_id)
    if newest_first is None:
        return None
    if statuses:
        newest_first = [t for t in newest_first if t.status in statuses]
    total = len(newest_first)
    if start is not None:
        newest_first = [t for t in newest_first if _sort_key(t) < start]
    page = Page.from_rows(newest_first, first)
    return TicketPage(page.items, page.has_next, total)


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
