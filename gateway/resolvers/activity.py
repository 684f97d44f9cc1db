"""Analytics reads: our customer id → PostHog distinct id → the PostHog loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from connectors.models import ActivityEvent, ActivityWindow, PersonSummary
from gateway.loaders.analytics import ACTIVITY_LIMIT, activity_window
from gateway.relay.pagination import after_position, check_first, window_cursor
from gateway.resolvers.context import Info

ACTIVITY = window_cursor("activity")
SOURCE = "posthog"


@dataclass(frozen=True, slots=True)
class ActivityPage:
    items: Sequence[ActivityEvent]
    has_next: bool
    offset: int
    """Position of ``items[0]`` among the events read, newest first."""


def _sort_key(event: ActivityEvent) -> tuple[str, str]:
    """What a cursor holds and is compared with."""
    return (event.occurred_at.isoformat(), event.id)


def _order(event: ActivityEvent) -> tuple[datetime, str]:
    """``_sort_key``'s order without a text per event: the times are UTC
    (``parse_time``, the mirror's), whose ISO texts sort as they do."""
    return (event.occurred_at, event.id)


def activity_cursor(event: ActivityEvent, position: int) -> str:
    """The event's sort key, and its position as a hint of how big a window
    the next page needs (a hint only: new events shift positions)."""
    return ACTIVITY.encode((*_sort_key(event), position))


async def activity(
    info: Info, customer_id: int, first: int, after: str | None, kinds: set[str] | None
) -> ActivityPage | None:
    """One page of the customer's events from the smallest window that holds
    it; filtered by kind, from the largest (a window of all kinds says
    nothing of how many of one it holds)."""
    start, needed = _start(info, first, after, kinds)
    analytics = info.context.loaders.upstream.posthog
    if analytics is None:
        return None
    while True:
        size = activity_window(needed)
        window = await analytics.activity.load(customer_id, size)
        if window is None:
            return None
        newest = sorted(window.activity.events, key=_order, reverse=True)
        if kinds:
            newest = [e for e in newest if e.kind.value in kinds]
        rest = newest if start is None else [e for e in newest if _sort_key(e) < start]
        if len(rest) >= first or window.complete:
            return ActivityPage(
                items=rest[:first],
                has_next=len(rest) > first or not window.complete,
                offset=len(newest) - len(rest),
            )
        if not rest:  # the cursor lies past this window: its position was no guide
            needed = ACTIVITY_LIMIT
        else:  # a window may hold fewer than its size (``as_window``)
            needed = max(len(newest) + first - len(rest), max(size, window.size) + 1)


def first_activity(
    info: Info,
    customer_id: int,
    first: int = 20,
    after: str | None = None,
    kinds: Collection[object] | None = None,
) -> Awaitable[ActivityWindow | None] | None:
    """The window ``activity`` reads first (``upstream_field(starts=)``)."""
    _, needed = _start(info, first, after, kinds)
    analytics = info.context.loaders.upstream.posthog
    if analytics is None:
        return None
    return analytics.activity.load(customer_id, activity_window(needed))


def _start(
    info: Info, first: int, after: str | None, kinds: Collection[object] | None
) -> tuple[tuple[str, str] | None, int]:
    """The page's arguments checked: the cursor's sort key, and how many of
    the newest events the page needs."""
    check_first(first, info.context.services.settings.max_page_size)
    start, offset = after_position(ACTIVITY, after) if after is not None else (None, 0)
    return start, ACTIVITY_LIMIT if kinds else offset + first


def summary(info: Info, customer_id: int) -> Awaitable[PersonSummary | None] | None:
    """The read of the customer's last-seen time and sessions
    (``upstream_field(starts=)``)."""
    analytics = info.context.loaders.upstream.posthog
    return analytics.summary.load(customer_id) if analytics else None


async def _summary(info: Info, customer_id: int) -> PersonSummary | None:
    read = summary(info, customer_id)
    return await read if read is not None else None


async def last_seen_at(info: Info, customer_id: int) -> datetime | None:
    summary = await _summary(info, customer_id)
    return summary.last_seen if summary else None


async def sessions_count(info: Info, customer_id: int) -> int | None:
    summary = await _summary(info, customer_id)
    return summary.sessions if summary else None
