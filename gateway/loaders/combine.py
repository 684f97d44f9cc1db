"""One value of a source for a customer linked to several of its records (a
merged customer's survivor): what ``ByCustomer`` gives when the links are
more than one. Each keeps the order and bounds of a single record's value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.models import (
    ActivityWindow,
    Checkout,
    OrderT,
    OrderWindow,
    PersonActivity,
    PersonSummary,
    Ticket,
)


def order_windows(windows: Sequence[OrderWindow[OrderT]]) -> OrderWindow[OrderT]:
    """The newest orders of all the accounts, newest first: every one when
    each window is complete, else as many as the smallest incomplete window
    holds (another account's older orders may be newer than those that
    window left out). A window smaller than asked (the last good one while
    Shopify fails) thus makes the whole smaller, as the page that reads it
    sees."""
    every: list[Any] = sorted(
        (order for window in windows for order in window.orders),
        key=lambda order: order.processed_at,
        reverse=True,
    )
    total = sum(w.total for w in windows)
    incomplete = [w.size for w in windows if not w.complete]
    if not incomplete:
        size = max(len(every), *(w.size for w in windows))
        return OrderWindow(size=size, total=total, complete=True, orders=tuple(every))
    size = min(incomplete)
    return OrderWindow(
        size=size, total=total, complete=False, orders=tuple(every[:size])
    )


def tickets(lists: Sequence[list[Ticket]]) -> list[Ticket]:
    """Every user's tickets, newest first (as Zendesk's search sorts them)."""
    return sorted(
        (t for found in lists for t in found), key=lambda t: t.created_at, reverse=True
    )


def checkouts(lists: Sequence[list[Checkout]]) -> list[Checkout]:
    return sorted(
        (c for found in lists for c in found), key=lambda c: c.created_at, reverse=True
    )


def summaries(found: Sequence[PersonSummary]) -> PersonSummary:
    seen = [s.last_seen for s in found if s.last_seen is not None]
    return PersonSummary(
        last_seen=max(seen) if seen else None, sessions=sum(s.sessions for s in found)
    )


def activity_windows(windows: Sequence[ActivityWindow]) -> ActivityWindow:
    """Every person's events, newest first, and their summaries summed. When
    a window is incomplete, only the events as new as its oldest: another
    person's older ones may be newer than those it left out."""
    events = sorted(
        (e for window in windows for e in window.activity.events),
        key=lambda e: (e.occurred_at, e.id),
        reverse=True,
    )
    partial = [w.activity.events for w in windows if not w.complete]
    if partial:
        if all(partial):
            edge = max(min(e.occurred_at for e in held) for held in partial)
            events = [e for e in events if e.occurred_at >= edge]
        else:
            events = []
    summary = summaries([w.activity.summary for w in windows])
    return ActivityWindow(
        size=min(w.size for w in windows),
        complete=not partial,
        activity=PersonActivity(events=tuple(events), summary=summary),
    )
