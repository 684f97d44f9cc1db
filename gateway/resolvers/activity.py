"""Analytics reads: our customer id → PostHog distinct id → the PostHog loaders."""

from __future__ import annotations

from datetime import datetime

from connectors.models import ActivityEvent, PersonActivity, PersonSummary
from gateway.context import Info
from gateway.errors import BadUserInput
from gateway.loaders import PostHogLoaders
from gateway.pagination import Page, check_first, decode_cursor, encode_cursor

ACTIVITY = "activity"


async def _person(info: Info, customer_id: int) -> tuple[PostHogLoaders, str] | None:
    loaders = info.context.loaders.upstream.posthog
    if loaders is None:
        return None
    distinct_id: str | None = await loaders.id_by_customer.load(customer_id)
    return (loaders, distinct_id) if distinct_id else None


def _sort_key(event: ActivityEvent) -> tuple[str, str]:
    return (event.occurred_at.isoformat(), event.id)


def activity_cursor(event: ActivityEvent) -> str:
    return encode_cursor(ACTIVITY, _sort_key(event))


async def activity(
    info: Info, customer_id: int, first: int, after: str | None, kinds: set[str] | None
) -> Page[ActivityEvent] | None:
    check_first(first, info.context.services.settings.max_page_size)
    start = None
    if after is not None:
        key = decode_cursor(ACTIVITY, after)
        if len(key) != 2 or not all(isinstance(k, str) for k in key):
            raise BadUserInput("The cursor is not valid.", argument="after")
        start = (str(key[0]), str(key[1]))
    person = await _person(info, customer_id)
    if person is None:
        return None
    loaders, distinct_id = person
    activity: PersonActivity = await loaders.activity_by_person.load(distinct_id)
    newest_first = sorted(activity.events, key=_sort_key, reverse=True)
    if kinds:
        newest_first = [e for e in newest_first if e.kind.value in kinds]
    if start is not None:
        newest_first = [e for e in newest_first if _sort_key(e) < start]
    return Page.from_rows(newest_first, first)


async def last_seen_at(info: Info, customer_id: int) -> datetime | None:
    person = await _person(info, customer_id)
    if person is None:
        return None
    summary: PersonSummary = await person[0].summary_by_person.load(person[1])
    return summary.last_seen


async def sessions_count(info: Info, customer_id: int) -> int | None:
    person = await _person(info, customer_id)
    if person is None:
        return None
    summary: PersonSummary = await person[0].summary_by_person.load(person[1])
    return summary.sessions
