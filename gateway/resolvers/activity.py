"""Analytics reads: our customer id → PostHog distinct id → the PostHog loaders."""

from __future__ import annotations

from datetime import datetime

from connectors.models import ActivityEvent, PersonSummary
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

ACTIVITY: Cursor[tuple[str, str]] = Cursor("activity", (str, str))


def _sort_key(event: ActivityEvent) -> tuple[str, str]:
    return (event.occurred_at.isoformat(), event.id)


def activity_cursor(event: ActivityEvent) -> str:
    return ACTIVITY.encode(_sort_key(event))


async def activity(
    info: Info, customer_id: int, first: int, after: str | None, kinds: set[str] | None
) -> Page[ActivityEvent] | None:
    check_first(first, info.context.services.settings.max_page_size)
    start = ACTIVITY.decode(after) if after is not None else None
    analytics = info.context.loaders.upstream.posthog
    activity = await analytics.activity.load(customer_id) if analytics else None
    if activity is None:
        return None
    newest_first = sorted(activity.events, key=_sort_key, reverse=True)
    if kinds:
        newest_first = [e for e in newest_first if e.kind.value in kinds]
    if start is not None:
        newest_first = [e for e in newest_first if _sort_key(e) < start]
    return Page.from_rows(newest_first, first)


async def _summary(info: Info, customer_id: int) -> PersonSummary | None:
    analytics = info.context.loaders.upstream.posthog
    return await analytics.summary.load(customer_id) if analytics else None


async def last_seen_at(info: Info, customer_id: int) -> datetime | None:
    summary = await _summary(info, customer_id)
    return summary.last_seen if summary else None


async def sessions_count(info: Info, customer_id: int) -> int | None:
    summary = await _summary(info, customer_id)
    return summary.sessions if summary else None
